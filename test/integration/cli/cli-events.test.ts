/**
 * `jarvis events [host]`: the agents' events kept in the store, newest first and in pages, read
 * from this machine's store and through a running jarvis's API (`--server`, GET /events and
 * GET /nodes/{host}/events), with the same lines either way.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApiJarvis } from "../../helpers/api-jarvis.js";
import type { ApiJarvis } from "../../helpers/api-jarvis.js";
import { openSqliteStore } from "../../../src/store/sqlite-store.js";

let jarvis: ApiJarvis;

beforeAll(async () => {
  jarvis = await startApiJarvis();
  // As the service keeps them from the bus; the store is the one jarvis and the CLI share.
  const store = openSqliteStore(jarvis.env.config().store.path);
  try {
    for (const [id, host, path] of [
      ["ev-1", "web-1", "/etc/nginx/a.conf"],
      ["ev-2", "web-2", "/etc/nginx/b.conf"],
      ["ev-3", "web-1", "/etc/nginx/c.conf"],
    ] as const)
      await store.recordNodeEvent({ id, host, kind: "file_changed", at: Date.now(), data: { path } });
  } finally {
    await store.close();
  }
}, 120_000);

afterAll(async () => {
  await jarvis?.stop();
});

describe("jarvis events", () => {
  const paths = (stdout: string): string[] =>
    stdout
      .trim()
      .split("\n")
      .map((line) => /"path":"([^"]+)"/.exec(line)?.[1] ?? line);

  it("lists every node's events newest first, in pages, here and through --server", async () => {
    for (const server of [[], ["--server", jarvis.url]]) {
      const env = server.length > 0 ? { JARVIS_TOKEN: jarvis.token } : {};
      const first = await jarvis.env.cli([...server, "events", "--limit", "2"], { env });
      expect(first.code, first.stderr).toBe(0);
      expect(paths(first.stdout)).toEqual(["/etc/nginx/c.conf", "/etc/nginx/b.conf"]);
      expect(first.stdout).toMatch(/^\S+Z web-1 file_changed \{"path":"\/etc\/nginx\/c.conf"\}$/m);
      expect(first.stderr).toContain("more: jarvis events --limit 2 --before ev-2");
      const rest = await jarvis.env.cli([...server, "events", "--limit", "2", "--before", "ev-2"], { env });
      expect(rest.code, rest.stderr).toBe(0);
      expect(paths(rest.stdout)).toEqual(["/etc/nginx/a.conf"]);
      expect(rest.stderr).toBe("");
    }
  }, 120_000);

  it("lists one host's events as JSON, and refuses a cursor it does not keep", async () => {
    for (const server of [[], ["--server", jarvis.url]]) {
      const env = server.length > 0 ? { JARVIS_TOKEN: jarvis.token } : {};
      const one = await jarvis.env.cli([...server, "events", "web-1", "--json"], { env });
      expect(one.code, one.stderr).toBe(0);
      const events = JSON.parse(one.stdout) as { id: string; host: string }[];
      expect(events.map((e) => [e.id, e.host])).toEqual([
        ["ev-3", "web-1"],
        ["ev-1", "web-1"],
      ]);
      const gone = await jarvis.env.cli([...server, "events", "web-1", "--before", "ev-2"], { env });
      expect(gone.code).toBe(2);
      expect(gone.stderr).toContain("the events cursor 'ev-2' is no event jarvis keeps from web-1");
    }
  }, 120_000);
});
