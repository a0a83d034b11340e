/**
 * Following the agents' events live, on both stores: a real agent watches a folder, a real
 * `jarvis start` keeps its events, and while `jarvis events --follow` (a CLI process on the same
 * store, and one through --server) and API followers (NDJSON, SSE) are attached, a change to the
 * watched file reaches every one of them. An SSE follower that drops and reconnects with its
 * Last-Event-ID gets what was kept meanwhile, nothing twice and nothing missing.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { userInfo } from "node:os";
import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../helpers/net.js";
import { startApiJarvis } from "../../helpers/api-jarvis.js";
import type { ApiJarvis } from "../../helpers/api-jarvis.js";
import { startFleet } from "./fleet.js";
import type { Fleet } from "./fleet.js";
import { startPostgres } from "../servers/postgres.js";
import type { PostgresServer } from "../servers/postgres.js";

interface Seen {
  id: string;
  seq: number;
  kind: string;
  data: { path?: unknown };
}

const HOST = "web-1";
const TOKEN = "events-follow-secret-0123456789";
let fleet: Fleet;
let postgres: PostgresServer;

beforeAll(async () => {
  postgres = await startPostgres();
  fleet = await startFleet({
    hosts: [HOST],
    startController: false,
    agentYml: (_host, dir) =>
      ["facts: {system: false}", `watch: [${join(dir, "nginx")}]`, "watch_settle_seconds: 0.3"].join("\n"),
  });
  mkdirSync(join(fleet.dir, HOST, "nginx"));
  writeFileSync(join(fleet.dir, "jarvis.nk"), fleet.jarvisUser.seed, { mode: 0o600 });
  writeFileSync(join(fleet.dir, "jarvis-signing.pem"), fleet.signing.privateKeyPem, { mode: 0o600 });
}, 180_000);

afterAll(async () => {
  await fleet?.close();
  await postgres?.stop();
});

/** The lines of an NDJSON or SSE response as they come, parsed by `take`, until cancelled. */
function reader(response: Response, take: (chunk: string) => void): { cancel(): Promise<void> } {
  const body = response.body!.getReader();
  const decoder = new TextDecoder();
  const done = (async () => {
    try {
      for (;;) {
        const { value, done: ended } = await body.read();
        if (ended) return;
        take(decoder.decode(value, { stream: true }));
      }
    } catch {
      // Cancelled by the test.
    }
  })();
  return {
    cancel: async () => {
      await body.cancel();
      await done;
    },
  };
}

/** Each complete NDJSON line of a growing buffer. */
function ndjsonInto(into: Seen[]): (chunk: string) => void {
  let buffer = "";
  return (chunk) => {
    buffer += chunk;
    let end: number;
    while ((end = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, end).trim();
      buffer = buffer.slice(end + 1);
      if (line !== "") into.push(JSON.parse(line) as Seen);
    }
  };
}

/** Each SSE event's data, with its `id:` checked against the event's seq. */
function sseInto(into: Seen[]): (chunk: string) => void {
  let buffer = "";
  return (chunk) => {
    buffer += chunk;
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const id = /^id: (\d+)$/m.exec(frame)?.[1];
      const data = /^data: (.*)$/m.exec(frame)?.[1];
      if (data === undefined) continue; // a keep-alive
      const event = JSON.parse(data) as Seen;
      expect(Number(id)).toBe(event.seq);
      into.push(event);
    }
  };
}

/** A `jarvis` CLI process whose stdout lines are events (--json). */
function cliFollower(jarvis: ApiJarvis, args: string[], env: NodeJS.ProcessEnv = {}) {
  const seen: Seen[] = [];
  const child: ChildProcess = jarvis.env.spawnCli(args, { env });
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => void (stderr += c.toString()));
  child.stdout?.setEncoding("utf8").on("data", ndjsonInto(seen));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { seen, stderr: () => stderr, exited, child };
}

const paths = (events: Seen[]): unknown[] => [...new Set(events.map((e) => e.data.path))];

describe.each(["sqlite", "postgres"] as const)("following the agents' events on %s", (kind) => {
  let jarvis: ApiJarvis;
  const call = (path: string, init: RequestInit = {}) =>
    jarvis.call(path, { ...init, headers: { ...init.headers, authorization: `Bearer ${TOKEN}` } });

  beforeAll(async () => {
    const store = kind === "postgres" ? `store:\n  url: ${await postgres.createDatabase()}` : undefined;
    jarvis = await startApiJarvis({
      ...(store === undefined ? {} : { store }),
      apiExtra: 'tokens:\n  watcher: "${TOKEN_WATCHER}"',
      processEnv: { TOKEN_WATCHER: TOKEN },
      extraConfig: [
        "agents:",
        `  nats: {url: "${fleet.nats.url}", nkey_seed_file: ${join(fleet.dir, "jarvis.nk")}}`,
        `  signing_key_file: ${join(fleet.dir, "jarvis-signing.pem")}`,
        "acl:",
        "  roles:",
        "    watcher: {commands: [events, hosts], hosts: ['*']}",
        "  people:",
        `    watcher: {roles: [watcher], identities: ['api:watcher', 'cli:${userInfo().username}']}`,
      ].join("\n"),
    });
    await eventually(
      async () => {
        const body = (await (await call("/nodes?where=online=true")).json()) as { nodes: unknown[] };
        return body.nodes.length === 1 ? true : undefined;
      },
      120_000,
      "the agent online",
    );
  }, 180_000);

  afterAll(async () => {
    await jarvis?.stop();
  });

  it("refuses a follow with a page's cursor, and a page with a follow's", async () => {
    for (const path of ["/events?follow=1&before=x", "/events?follow=1&limit=5", "/events?after=3"]) {
      const response = await call(path);
      expect(response.status, path).toBe(400);
      expect(await response.json()).toMatchObject({ code: "E_API_INPUT" });
    }
  });

  it("brings a watched file's change to CLI and API followers, and resumes a dropped follower exactly", async () => {
    const page = (await (await call("/events?limit=1")).json()) as { events: Seen[] };
    const base = page.events[0]?.seq ?? 0;
    const local = cliFollower(jarvis, ["events", HOST, "--follow", "--json", "--after", String(base)]);
    const remote = cliFollower(
      jarvis,
      ["--server", jarvis.url, "events", "--follow", "--json", "--after", String(base)],
      {
        JARVIS_TOKEN: TOKEN,
      },
    );
    const ndjson: Seen[] = [];
    const ndjsonStream = reader(
      await call(`/nodes/${HOST}/events?follow=1&format=ndjson&after=${base}`),
      ndjsonInto(ndjson),
    );
    const sse: Seen[] = [];
    const sseResponse = await call(`/events?after=${base}`, {
      headers: { accept: "text/event-stream" },
    });
    expect(sseResponse.headers.get("content-type")).toMatch(/^text\/event-stream/);
    let sseStream = reader(sseResponse, sseInto(sse));
    try {
      const file = (n: number) => join(fleet.dir, HOST, "nginx", `site-${kind}-${n}.conf`);
      const sawFile = (events: Seen[], n: number) => events.some((e) => e.data.path === file(n));

      writeFileSync(file(1), "server {}\n");
      for (const [name, events] of [
        ["jarvis events --follow", local.seen],
        ["jarvis --server events --follow", remote.seen],
        ["the NDJSON follower", ndjson],
        ["the SSE follower", sse],
      ] as const)
        await eventually(() => (sawFile(events, 1) ? true : undefined), 120_000, `${name} to see the change`);
      expect(local.seen[0]).toMatchObject({ kind: "file_changed", host: HOST });

      // The SSE follower drops; two more changes are kept while it is away.
      await sseStream.cancel();
      const lastEventId = String(sse.at(-1)!.seq);
      writeFileSync(file(2), "server {}\n");
      await eventually(() => (sawFile(ndjson, 2) ? true : undefined), 120_000, "the second change");
      writeFileSync(file(3), "server {}\n");
      await eventually(() => (sawFile(ndjson, 3) ? true : undefined), 120_000, "the third change");
      const back = await call("/events?follow=1", { headers: { "last-event-id": lastEventId } });
      sseStream = reader(back, sseInto(sse));
      writeFileSync(file(4), "server {}\n");
      for (const events of [sse, ndjson, local.seen, remote.seen])
        await eventually(() => (sawFile(events, 4) ? true : undefined), 120_000, "the fourth change");

      // What the store kept after `base`, oldest first: every follower saw exactly that.
      const kept = ((await (await call(`/events?limit=1000`)).json()) as { events: Seen[] }).events
        .filter((e) => e.seq > base)
        .reverse();
      const upTo = (events: Seen[]) => events.filter((e) => e.seq <= kept.at(-1)!.seq).map((e) => e.id);
      expect(paths(kept)).toEqual([file(1), file(2), file(3), file(4)]);
      for (const events of [sse, ndjson, local.seen, remote.seen])
        expect(upTo(events)).toEqual(kept.map((e) => e.id));
    } finally {
      await sseStream.cancel();
      await ndjsonStream.cancel();
      local.child.kill("SIGTERM");
      remote.child.kill("SIGTERM");
    }
    expect(await local.exited, local.stderr()).toBe(0);
    expect(await remote.exited, remote.stderr()).toBe(0);
  }, 300_000);
});
