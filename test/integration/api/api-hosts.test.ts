/**
 * The HTTP API's hosts, history, replay, plan runs and nodes against a real listening
 * `jarvis start` with a node file: every host with its latest run in pages, one host's runs in
 * pages, a run replayed onto two other hosts, a plan run, `GET /nodes?where=`, and bad input.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { designFor } from "../../helpers/jarvis-env.js";
import { eventually } from "../../helpers/net.js";
import { startApiJarvis } from "../../helpers/api-jarvis.js";
import type { ApiJarvis } from "../../helpers/api-jarvis.js";

let jarvis: ApiJarvis;
const HOSTS = ["baldr", "frey", "loki", "odin", "thor", "tyr"];

type Json = Record<string, unknown>;
const json = async (response: Response): Promise<Json> => (await response.json()) as Json;
const post = (path: string, body?: unknown): Promise<Response> =>
  jarvis.call(path, {
    method: "POST",
    ...(body === undefined
      ? {}
      : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
  });
const finished = (id: string): Promise<Json> =>
  eventually(
    async () => {
      const run = await json(await jarvis.call(`/runs/${id}`));
      return ["succeeded", "failed", "cancelled"].includes(String(run.state)) ? run : undefined;
    },
    90_000,
    `run ${id} to finish`,
  );

beforeAll(async () => {
  const nodeFile = join(
    (await import("node:os")).tmpdir(),
    `jarvis-api-nodes-${process.pid}-${Date.now()}.yml`,
  );
  writeFileSync(
    nodeFile,
    [
      "nodes:",
      "  - {host: web-1, groups: [web], online: true, last_seen: 1767225600000, facts: {os: {family: debian}, memory: {mb: 4096}}}",
      "  - {host: web-2, groups: [web], facts: {os: {family: debian}, memory: {mb: 1024}}}",
      "  - {host: db-1, groups: [db], facts: {os: {family: redhat}, memory: {mb: 8192}}}",
      "",
    ].join("\n"),
  );
  jarvis = await startApiJarvis({
    pipelines: { quick: "steps:\n  - ok:first\n" },
    extraConfig: `modules:\n  inventory:\n    with:\n      directory: {kind: file, path: ${nodeFile}}\n`,
  });
  mkdirSync(join(jarvis.env.dir, "designs"));
  for (const host of HOSTS) writeFileSync(join(jarvis.env.dir, "designs", `${host}.yml`), designFor(host));
}, 120_000);

afterAll(async () => {
  await jarvis?.stop();
});

describe("HTTP API: hosts, history, replay, plan and nodes", () => {
  it("lists every host with its latest run in pages, and a host's runs in pages", async () => {
    const ids: string[] = [];
    for (const host of ["loki", "loki", "loki", "thor", "odin"]) {
      const started = await post("/runs?wait=60s", { pipeline: "quick", source: `${host}.yml` });
      expect(started.status).toBe(200);
      ids.push(String((await json(started)).id));
    }
    const first = await json(await jarvis.call("/hosts?limit=2"));
    expect(first).toMatchObject({ total: 3, next: "odin" });
    expect(first.hosts).toEqual([
      expect.objectContaining({
        host: "loki",
        run_count: 3,
        latest: expect.objectContaining({ id: ids[2] }),
      }),
      expect.objectContaining({
        host: "odin",
        run_count: 1,
        latest: expect.objectContaining({ state: "succeeded" }),
      }),
    ]);
    const second = await json(await jarvis.call("/hosts?limit=2&after=odin"));
    expect(second).toMatchObject({ next: null, hosts: [expect.objectContaining({ host: "thor" })] });

    const newest = await json(await jarvis.call("/hosts/loki/runs?limit=2"));
    expect((newest.runs as Json[]).map((r) => r.id)).toEqual([ids[2], ids[1]]);
    expect(newest.next).toBe(ids[1]);
    const older = await json(await jarvis.call(`/hosts/loki/runs?limit=2&before=${String(newest.next)}`));
    expect((older.runs as Json[]).map((r) => r.id)).toEqual([ids[0]]);
    expect(older.next).toBeNull();
    const none = await jarvis.call("/hosts/loki/runs?before=nosuchrun");
    expect(none.status).toBe(404);
    expect(await json(none)).toMatchObject({ code: "E_RUN_NOT_FOUND" });
  }, 240_000);

  it("replays a run onto two other hosts (each on its latest run's design): 201 with the new runs, which finish", async () => {
    // A host's design is its latest run's source; without one it would be cn=<host> from LDAP.
    for (const host of ["tyr", "baldr"])
      expect((await post("/runs?wait=60s", { pipeline: "quick", source: `${host}.yml` })).status).toBe(200);
    const original = await json(await post("/runs?wait=60s", { pipeline: "quick", source: "frey.yml" }));
    expect(original.state).toBe("succeeded");
    const replayed = await post(`/runs/${String(original.id)}/replay`, { hosts: ["tyr", "baldr"] });
    const body = await json(replayed);
    expect(replayed.status, JSON.stringify(body)).toBe(201);
    const runs = body.runs as Json[];
    expect(runs.map((r) => r.host).sort()).toEqual(["baldr", "tyr"]);
    for (const run of runs) {
      expect(run).toMatchObject({ pipeline: "quick" });
      expect(await finished(String(run.id))).toMatchObject({ state: "succeeded" });
    }
    const bySource = await post(`/runs/${String(original.id)}/replay`, { sources: ["thor.yml"] });
    expect(bySource.status).toBe(201);
    expect(await json(bySource)).toMatchObject({ runs: [expect.objectContaining({ host: "thor" })] });
  }, 240_000);

  it("starts a plan run whose clipboard has the plan", async () => {
    const started = await post("/runs?wait=60s", { pipeline: "quick", source: "odin.yml", plan: true });
    const run = await json(started);
    expect(started.status, JSON.stringify(run)).toBe(200);
    expect(run).toMatchObject({ plan: true, host: "odin" });
    const clip = await json(await jarvis.call(`/runs/${String(run.id)}/clipboard`));
    // ok:first is an external step: listed as unknown, never started.
    expect(clip.clipboard).toMatchObject({ plan: [{ step: "ok:first", action: "unknown" }] });
    expect(clip.clipboard).not.toHaveProperty("fixture_ok");
  }, 120_000);

  it("lists the nodes a selector picks, and names the column of a mistake", async () => {
    const all = await json(await jarvis.call("/nodes"));
    expect((all.nodes as Json[]).map((n) => n.host)).toEqual(["db-1", "web-1", "web-2"]);
    const picked = await json(
      await jarvis.call(`/nodes?where=${encodeURIComponent("os.family=debian and memory.mb>=2048")}`),
    );
    expect(picked).toMatchObject({
      where: "os.family=debian and memory.mb>=2048",
      nodes: [
        {
          host: "web-1",
          groups: ["web"],
          online: true,
          last_seen: "2026-01-01T00:00:00.000Z",
          facts: { os: { family: "debian" }, memory: { mb: 4096 } },
        },
      ],
    });
    const bad = await jarvis.call(`/nodes?where=${encodeURIComponent("memory.mb>=")}`);
    expect(bad.status).toBe(400);
    expect(await json(bad)).toMatchObject({
      code: "E_USAGE",
      message: expect.stringContaining("expected a value after '>=' at column 12"),
    });
  });

  it("refuses bad input with clear errors", async () => {
    const anyRun = String(
      ((await json(await jarvis.call("/hosts/loki/runs?limit=1"))).runs as Json[])[0]?.id,
    );
    const cases: [Promise<Response>, number, string, RegExp?][] = [
      [post(`/runs/${anyRun}/replay`, { hosts: ["tyr"], colour: "red" }), 400, "E_API_INPUT", /body\.colour/],
      [post(`/runs/${anyRun}/replay`, { hosts: "tyr" }), 400, "E_API_INPUT", /body\.hosts/],
      [post(`/runs/${anyRun}/replay`, { hosts: ["tyr"], sources: ["x.yml"] }), 400, "E_API_INPUT", /one of/],
      [post(`/runs/${anyRun}/replay`, { hosts: ["../etc"] }), 400, "E_API_INPUT", /body\.hosts/],
      [post("/runs/nosuchrun/replay", { hosts: ["tyr"] }), 404, "E_RUN_NOT_FOUND"],
      [post(`/runs/${anyRun}/deny`, { reason: 7 }), 400, "E_API_INPUT", /body\.reason/],
      [post(`/runs/${anyRun}/deny`, {}), 400, "E_API_INPUT", /body\.reason/],
      [
        post("/runs", { pipeline: "quick", source: "loki.yml", plan: "yes" }),
        400,
        "E_API_INPUT",
        /body\.plan/,
      ],
      [jarvis.call("/hosts?limit=0"), 400, "E_API_INPUT", /query\.limit/],
      [jarvis.call("/hosts?after=..%2Fx"), 400, "E_API_INPUT", /query\.after/],
      [jarvis.call("/hosts?colour=red"), 400, "E_API_INPUT", /query\.colour/],
      [jarvis.call("/hosts/loki/runs?before=..%2Fx"), 400, "E_API_INPUT", /query\.before/],
      [jarvis.call("/nodes?where="), 400, "E_API_INPUT", /query\.where/],
    ];
    for (const [pending, status, code, message] of cases) {
      const response = await pending;
      const body = await json(response);
      expect({ status: response.status, code: body.code }, JSON.stringify(body)).toEqual({ status, code });
      if (message) expect(body.message).toMatch(message);
    }
  }, 60_000);

  it("describes the new routes in /openapi.json", async () => {
    const doc = await json(await jarvis.call("/openapi.json"));
    expect(Object.keys(doc.paths as Json)).toEqual(
      expect.arrayContaining([
        "/hosts",
        "/hosts/{host}/runs",
        "/nodes",
        "/runs/{id}/replay",
        "/runs/{id}/approve",
        "/runs/{id}/deny",
      ]),
    );
  });
});
