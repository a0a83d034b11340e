/**
 * The jobs HTTP API and `jarvis job` / `jarvis jobs` against a real listening `jarvis start`, a
 * real nats-server with NKEY users and three agent processes: start (async and ?wait=), read with
 * output tails (redacted), follow the events as SSE and NDJSON and resume them, rerun the failed
 * nodes with the original selector and arguments, cancel, delete, page, one host's history, the
 * errors (400 naming the field, 403 naming the role, 404, 409, 422), and the CLI's exit codes.
 * jarvis runs on a PostgreSQL store, where its nodes and jobs must be kept (not in a SQLite file),
 * and the history is read by host, by the nodes a selector matches, and by selector.
 */
import { existsSync, writeFileSync } from "node:fs";
import type pg from "pg";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../helpers/net.js";
import { startApiJarvis } from "../../helpers/api-jarvis.js";
import type { ApiJarvis } from "../../helpers/api-jarvis.js";
import { startFleet } from "./fleet.js";
import type { Fleet } from "./fleet.js";
import { queryRows, startPostgres } from "../servers/postgres.js";
import type { PostgresServer } from "../servers/postgres.js";

const OPS = "ops-secret-0123456789abcdef";
const VIEWER = "viewer-secret-0123456789abcdef";
const SECRET = "hunter2-jobs-api-secret";
const hosts = ["web-1", "web-2", "db-1"];
let fleet: Fleet;
let jarvis: ApiJarvis;
let postgres: PostgresServer;
let databaseUrl: string;

beforeAll(async () => {
  postgres = await startPostgres();
  databaseUrl = await postgres.createDatabase();
  fleet = await startFleet({
    hosts,
    startController: false,
    agentYml: (host) =>
      `groups: [${host.startsWith("web") ? "web" : "db"}]\nfacts: {system: false}\nallow: {operations: [ping, facts, execute, cancel]}`,
  });
  writeFileSync(join(fleet.dir, "jarvis.nk"), fleet.jarvisUser.seed, { mode: 0o600 });
  writeFileSync(join(fleet.dir, "jarvis-signing.pem"), fleet.signing.privateKeyPem, { mode: 0o600 });
  jarvis = await startApiJarvis({
    store: `store:\n  url: ${databaseUrl}`,
    apiExtra: 'tokens:\n  ops: "${TOKEN_OPS}"\n  viewer: "${TOKEN_VIEWER}"',
    processEnv: { TOKEN_OPS: OPS, TOKEN_VIEWER: VIEWER },
    extraConfig: [
      "agents:",
      `  nats: {url: "${fleet.nats.url}", nkey_seed_file: ${join(fleet.dir, "jarvis.nk")}}`,
      `  signing_key_file: ${join(fleet.dir, "jarvis-signing.pem")}`,
      "  job_timeout_seconds: 60",
      "modules:",
      "  ssh:",
      `    env: {JOBS_API_TEST_SECRET: "${SECRET}"}`,
      "acl:",
      "  roles:",
      "    ops: {commands: [ping, execute, service, job, hosts], hosts: ['*']}",
      "    reader: {commands: [job, hosts]}",
      "  people:",
      "    ops: {roles: [ops], identities: ['api:ops']}",
      "    viewer: {roles: [reader], identities: ['api:viewer']}",
    ].join("\n"),
  });
  await eventually(
    async () => {
      const body = (await (await as(OPS, "/nodes?where=online=true")).json()) as { nodes: unknown[] };
      return body.nodes.length === 3 ? true : undefined;
    },
    120_000,
    "3 agents online",
  );
}, 240_000);

afterAll(async () => {
  await jarvis?.stop();
  await fleet?.close();
  await postgres?.stop();
});

/** Rows of the jarvis database, read as another replica would. */
function query<R extends pg.QueryResultRow>(sql: string, args: unknown[] = []): Promise<R[]> {
  return queryRows<R>(databaseUrl, sql, args);
}

function as(secret: string, path: string, init: RequestInit = {}): Promise<Response> {
  return jarvis.call(path, {
    ...init,
    headers: {
      ...(init.body === undefined ? {} : { "content-type": "application/json" }),
      authorization: `Bearer ${secret}`,
    },
  });
}

const post = (path: string, body: unknown, secret = OPS) =>
  as(secret, path, { method: "POST", body: JSON.stringify(body) });

interface JobJson {
  jid: string;
  state: string;
  targets: { hosts: string[]; where: string | null };
  operation: { kind: string; command?: string };
  rerun_of: string | null;
  nodes: {
    host: string;
    state: string;
    exit_code: number | null;
    received_at: string | null;
    stdout_tail?: string;
  }[];
}

async function json<T>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  return JSON.parse(text) as T;
}

/** Read a stream to its end (the server ends it with the job). */
async function readAll(res: Response): Promise<string> {
  expect(res.status).toBe(200);
  return res.text();
}

const cli = (args: string[]) =>
  jarvis.env.cli(args, { env: { JARVIS_TOKEN: OPS, TOKEN_OPS: OPS, TOKEN_VIEWER: VIEWER } });

describe("the jobs API", () => {
  it("runs a ping on a host list and waits for it (200), every node ACKed", async () => {
    const job = await json<JobJson>(
      await post("/jobs?wait=120s", { operation: "ping", targets: ["web-*"] }),
      200,
    );
    expect(job.state).toBe("done");
    expect(job.nodes.map((n) => [n.host, n.state])).toEqual([
      ["web-1", "ok"],
      ["web-2", "ok"],
    ]);
    for (const n of job.nodes) expect(n.received_at).not.toBeNull();
    // Kept in PostgreSQL, where every replica reads it, and in no SQLite file beside jarvis.yml.
    const kept = await query<{ state: string }>("SELECT state FROM jobs WHERE id = $1", [job.jid]);
    expect(kept).toEqual([{ state: "done" }]);
    const nodes = await query<{ host: string; state: string }>(
      "SELECT host, state FROM job_nodes WHERE job_id = $1 ORDER BY host",
      [job.jid],
    );
    expect(nodes).toEqual([
      { host: "web-1", state: "ok" },
      { host: "web-2", state: "ok" },
    ]);
    expect(
      (await query<{ host: string }>("SELECT host FROM nodes ORDER BY host")).map((n) => n.host),
    ).toEqual(["db-1", "web-1", "web-2"]);
    expect(existsSync(jarvis.env.config().store.path)).toBe(false);
  });

  it("shows output tails redacted, follows events (SSE and NDJSON, resumable) and reruns only the failed nodes", async () => {
    writeFileSync(join(fleet.agents.get("web-2")!.dir, "fail"), "");
    const started = await json<JobJson>(
      await post("/jobs", {
        operation: "execute",
        args: { command: `echo out-${SECRET}; test ! -e fail` },
        where: "group=web",
      }),
      201,
    );
    expect(started.state).toBe("running");
    expect(started.operation.command).not.toContain(SECRET);

    const sse = await readAll(await as(OPS, `/jobs/${started.jid}/events`));
    const ids = [...sse.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(ids.length).toBeGreaterThan(4);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(sse).toMatch(/event: node\ndata: \{[^\n]*"host":"web-1","state":"received"/);
    expect(sse).toMatch(/event: job\ndata: \{[^\n]*"state":"failure"[^\n]*"final":true/);

    const resumed = await readAll(
      await jarvis.call(`/jobs/${started.jid}/events?format=ndjson`, {
        headers: { authorization: `Bearer ${OPS}`, "last-event-id": String(ids[1]) },
      }),
    );
    const lines = resumed
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { seq: number; final: boolean });
    expect(lines.map((l) => l.seq)).toEqual(ids.slice(2));
    expect(lines.at(-1)?.final).toBe(true);

    const shown = await json<JobJson>(await as(OPS, `/jobs/${started.jid}?outputs=1`), 200);
    expect(shown.state).toBe("failure");
    const web1 = shown.nodes.find((n) => n.host === "web-1")!;
    const web2 = shown.nodes.find((n) => n.host === "web-2")!;
    expect(web1).toMatchObject({ state: expect.stringMatching(/ok|changed/), exit_code: 0 });
    expect(web1.stdout_tail).toContain("out-");
    expect(web1.stdout_tail).not.toContain(SECRET);
    expect(web2).toMatchObject({ state: "failed", exit_code: 1 });

    const rerun = await json<JobJson>(
      await post(`/jobs/${started.jid}/rerun?wait=120s`, { only: "failed" }),
      200,
    );
    expect(rerun.rerun_of).toBe(started.jid);
    expect(rerun.targets).toEqual({ hosts: [], where: "group=web" });
    expect(rerun.nodes.map((n) => n.host)).toEqual(["web-2"]);
    expect(rerun.state).toBe("failure");
  });

  it("cancels a running job, refuses to delete it while it runs (409), deletes it once ended", async () => {
    const job = await json<JobJson>(
      await post("/jobs", { operation: "execute", args: { command: "sleep 60" }, targets: ["db-1"] }),
      201,
    );
    await eventually(
      async () => {
        const now = await json<JobJson>(await as(OPS, `/jobs/${job.jid}`), 200);
        return now.nodes[0]?.state === "running" ? true : undefined;
      },
      60_000,
      "db-1 running the sleep",
    );
    const busy = await json<{ code: string }>(await as(OPS, `/jobs/${job.jid}`, { method: "DELETE" }), 409);
    expect(busy.code).toBe("E_JOB_STATE");
    const cancelled = await json<JobJson>(await post(`/jobs/${job.jid}/cancel`, undefined), 202);
    expect(cancelled.state).toBe("cancelled");
    await readAll(await as(OPS, `/jobs/${job.jid}/events?format=ndjson`));
    const again = await json<{ code: string }>(await post(`/jobs/${job.jid}/cancel`, undefined), 409);
    expect(again.code).toBe("E_JOB_STATE");
    expect((await as(OPS, `/jobs/${job.jid}`, { method: "DELETE" })).status).toBe(204);
    expect((await json<{ code: string }>(await as(OPS, `/jobs/${job.jid}`), 404)).code).toBe("E_JOB_UNKNOWN");
  });

  it("pages jobs newest first, and one host's history", async () => {
    const first = await json<{ jobs: JobJson[]; next_cursor: string | null }>(
      await as(OPS, "/jobs?limit=2"),
      200,
    );
    expect(first.jobs).toHaveLength(2);
    expect(first.next_cursor).not.toBeNull();
    const second = await json<{ jobs: JobJson[] }>(
      await as(OPS, `/jobs?limit=2&cursor=${first.next_cursor ?? ""}`),
      200,
    );
    expect(second.jobs.length).toBeGreaterThan(0);
    const seen = new Set(first.jobs.map((j) => j.jid));
    for (const j of second.jobs) expect(seen.has(j.jid)).toBe(false);
    const db = await json<{ host: string; jobs: JobJson[] }>(await as(OPS, "/nodes/db-1/jobs"), 200);
    const web = await json<{ jobs: JobJson[] }>(await as(OPS, "/nodes/web-2/jobs"), 200);
    expect(web.jobs.length).toBeGreaterThanOrEqual(3);
    for (const j of db.jobs) expect(web.jobs.some((w) => w.jid === j.jid)).toBe(false);
  });

  it("lists the jobs that went to the nodes a selector matches now, and those made with a selector", async () => {
    type Page = { jobs: JobJson[]; next_cursor: string | null };
    // The same selector, typed two ways: kept alike, so a page by selector finds both.
    const made: string[] = [];
    for (const where of ["group=db", "  group=db "])
      made.unshift(
        (await json<JobJson>(await post("/jobs?wait=120s", { operation: "ping", where }), 200)).jid,
      );
    const all = await json<Page>(await as(OPS, "/jobs?limit=500"), 200);
    const wentTo = async (jid: string, hosts: string[]) =>
      (await json<JobJson>(await as(OPS, `/jobs/${jid}`), 200)).nodes.some((n) => hosts.includes(n.host));
    const toDb: string[] = [];
    for (const j of all.jobs) if (await wentTo(j.jid, ["db-1"])) toDb.push(j.jid);
    expect(toDb.length).toBeGreaterThan(0);
    const byFact = await json<Page>(await as(OPS, `/jobs?where=${encodeURIComponent("group=db")}`), 200);
    expect(byFact.jobs.map((j) => j.jid)).toEqual(toDb);
    const web2 = await json<Page>(await as(OPS, `/jobs?where=${encodeURIComponent("web-2")}`), 200);
    expect(web2.jobs.map((j) => j.jid)).toEqual(
      (await json<Page>(await as(OPS, "/nodes/web-2/jobs?limit=500"), 200)).jobs.map((j) => j.jid),
    );
    const bySelector = await json<Page>(
      await as(OPS, `/jobs?selector=${encodeURIComponent(" where group=db ")}&limit=1`),
      200,
    );
    expect(bySelector.jobs.map((j) => [j.jid, j.targets.where])).toEqual([[made[0], "group=db"]]);
    const next = await json<Page>(
      await as(OPS, `/jobs?selector=group%3Ddb&limit=1&cursor=${bySelector.next_cursor ?? ""}`),
      200,
    );
    expect(next.jobs.map((j) => [j.jid, j.targets.where])).toEqual([[made[1], "group=db"]]);
    const bad = await json<{ message: string }>(await as(OPS, "/jobs?where=group%3Dweb%20and"), 400);
    expect(bad.message).toMatch(/^query\.where: selector: .* at column 14/);
    const both = await json<{ message: string }>(await as(OPS, "/jobs?where=group%3Dweb&selector=x"), 400);
    expect(both.message).toMatch(/give where or selector, not both/);
  });

  it("answers bad input, refusals and unknowns with {code, message} and the right status", async () => {
    const where = await json<{ code: string; message: string }>(
      await post("/jobs", { operation: "ping", where: "group=web and" }),
      400,
    );
    expect(where.message).toMatch(/^body\.where: selector: .* at column 14/);
    const both = await json<{ message: string }>(await post("/jobs", { operation: "ping" }), 400);
    expect(both.message).toMatch(/body\.targets: give exactly one of targets and where/);
    const args = await json<{ message: string }>(
      await post("/jobs", { operation: "execute", targets: ["db-1"] }),
      400,
    );
    expect(args.message).toMatch(/^body\.args\.command/);
    const misspelt = await json<{ message: string }>(
      await post("/jobs", { operation: "execute", args: { comand: "true" }, targets: ["db-1"] }),
      400,
    );
    expect(misspelt.message).toBe("body.args.comand: unknown key for operation execute; expected command");
    const denied = await json<{ code: string; message: string }>(
      await post("/jobs", { operation: "execute", args: { command: "true" }, targets: ["db-1"] }, VIEWER),
      403,
    );
    expect(denied).toMatchObject({ code: "E_DENIED" });
    expect(denied.message).toMatch(/execute on db-1 is not allowed: it needs role ops/);
    expect((await as(VIEWER, "/jobs?limit=1")).status).toBe(200);
    expect((await json<{ code: string }>(await as(OPS, "/jobs/nosuchjob"), 404)).code).toBe("E_JOB_UNKNOWN");
    const unknown = await json<{ code: string; message: string }>(
      await post("/jobs", { operation: "ping", targets: ["web-1", "web-9"] }),
      422,
    );
    expect(unknown).toMatchObject({ code: "E_JOB_NO_TARGETS" });
    expect(unknown.message).toMatch(/web-9: no such node/);
  });

  it("documents the routes in the OpenAPI document", async () => {
    const doc = (await (await jarvis.call("/openapi.json")).json()) as { paths: Record<string, unknown> };
    for (const path of [
      "/jobs",
      "/jobs/{jid}",
      "/jobs/{jid}/events",
      "/jobs/{jid}/rerun",
      "/jobs/{jid}/cancel",
      "/nodes/{host}/jobs",
    ])
      expect(doc.paths).toHaveProperty([path]);
  });
});

describe("jarvis job and jarvis jobs", () => {
  // Each CLI call is a fresh node process: slow on a loaded machine, so the deadline is generous.
  it("runs, shows, lists, reruns and refuses with the CLI's exit codes", { timeout: 900_000 }, async () => {
    const run = await cli(["job", "run", "echo cli-hello", "--where", "group=db"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/db-1: (ok|changed) \(exit 0\), ACK/);
    expect(run.stdout).toMatch(/stdout: cli-hello/);
    const jid = /^job (\S+) execute/m.exec(run.stdout)?.[1] ?? "";
    expect((await cli(["jobs", "--host", "db-1", "--limit", "5"])).stdout).toContain(jid);
    expect((await cli(["jobs", "--where", "group=db", "--limit", "5"])).stdout).toContain(jid);
    expect((await cli(["jobs", "--selector", "group=db", "--limit", "5"])).stdout).toContain(jid);
    expect((await cli(["job", "status", "nosuchjob"])).code).toBe(4);
    expect((await cli(["job", "cancel", jid])).code).toBe(5);
    expect((await cli(["job", "ping", "web-9"])).code).toBe(3);
    const failed = await cli(["job", "run", "false", "db-1"]);
    expect(failed.code).toBe(1);
    const failedJid = /^job (\S+) execute/m.exec(failed.stdout)?.[1] ?? "";
    const rerun = await cli(["job", "rerun", failedJid, "--only", "failed", "--json"]);
    expect(rerun.code).toBe(1);
    expect(JSON.parse(rerun.stdout)).toMatchObject({ rerun_of: failedJid, state: "failure" });
  });
});
