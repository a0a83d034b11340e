import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { openSqliteStore } from "../../../src/store/sqlite-store.js";

const dir = mkdtempSync(join(tmpdir(), "jarvis-hosts-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(host: string) {
  return {
    host,
    pipeline: "p",
    pipelineJson: "{}",
    totalSteps: 1,
    requestedBy: "test",
    origin: "cli",
    source: `${host}.yml`,
    clipboardYaml: "a: 1\n",
    stepNames: ["ok:a"],
    lease: { owner: "o", leaseMs: 60_000 },
  };
}

describe("SQLite per-host index", () => {
  it("fills the index from the runs of a store made before it existed", async () => {
    const path = join(dir, "old.sqlite");
    const store = openSqliteStore(path);
    const ids: string[] = [];
    for (const host of ["loki", "thor", "loki"]) {
      const r = await store.createRun(run(host));
      await store.finishIfOwner({ runId: r.id, owner: "o" }, { state: "succeeded", error: null });
      ids.push(r.id);
    }
    await store.close();
    // What a store made by the jarvis before the index looks like.
    const db = new Database(path);
    db.exec(
      `DROP TRIGGER hosts_on_run_insert; DROP TRIGGER hosts_on_run_update; DROP TRIGGER hosts_on_run_delete; DROP TABLE hosts`,
    );
    db.close();
    const reopened = openSqliteStore(path);
    const page = await reopened.listHosts({});
    expect(page.hosts.map((h) => [h.host, h.latest.id, h.runCount])).toEqual([
      ["loki", ids[2], 2],
      ["thor", ids[1], 1],
    ]);
    await reopened.close();
  });

  it("follows a deleted run: the host's previous run becomes its latest, a host with none leaves", async () => {
    const path = join(dir, "delete.sqlite");
    const store = openSqliteStore(path);
    const ids: string[] = [];
    for (const host of ["loki", "loki", "thor"]) {
      const r = await store.createRun(run(host));
      await store.finishIfOwner({ runId: r.id, owner: "o" }, { state: "succeeded", error: null });
      ids.push(r.id);
    }
    const db = new Database(path);
    db.prepare(`DELETE FROM runs WHERE id IN (?, ?)`).run(ids[1], ids[2]);
    db.close();
    expect((await store.listHosts({})).hosts.map((h) => [h.host, h.latest.id, h.runCount])).toEqual([
      ["loki", ids[0], 1],
    ]);
    await store.close();
  });
});
