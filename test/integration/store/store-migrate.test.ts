/**
 * `jarvis store migrate --from sqlite:PATH --to postgres://...`: real runs made by the CLI on a
 * SQLite store, copied into a real PostgreSQL and read back through both stores' interfaces.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { openSqliteStore } from "../../../src/store/sqlite-store.js";
import { openPostgresStore } from "../../../src/store/postgres-store.js";
import { designFor, makeJarvisEnv } from "../../helpers/jarvis-env.js";
import { startPostgres } from "../servers/postgres.js";
import type { PostgresServer } from "../servers/postgres.js";
import type { RunStore } from "../../../src/store/run-store.js";

let server: PostgresServer;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server?.stop();
});

/** Everything a store holds, read through the RunStore interface. */
async function contents(store: RunStore) {
  const runs = await store.listRuns({});
  const perRun = [];
  for (const run of runs) {
    const steps = await store.listSteps(run.id);
    const snapshots = [];
    for (const step of steps) {
      snapshots.push(await store.getSnapshot(run.id, step.index, "input"));
      snapshots.push(await store.getSnapshot(run.id, step.index, "output"));
    }
    perRun.push({ run, steps, snapshots, log: await store.readLog(run.id) });
  }
  return { perRun, events: await store.readEvents(0), audit: await store.listAudit(1000) };
}

describe("jarvis store migrate", () => {
  it("copies runs, steps, snapshots, logs, events and audit into PostgreSQL, checked by counts", async () => {
    const env = makeJarvisEnv({
      pipelines: {
        good: "steps:\n  - ok:first\n",
        bad: "steps:\n  - fail:now\non_failure:\n  - ok:cleanup\n",
      },
    });
    expect((await env.cli(["run", "good", env.write("loki.yml", designFor("loki"))])).code).toBe(0);
    expect((await env.cli(["run", "bad", env.write("thor.yml", designFor("thor"))])).code).toBe(1);
    expect((await env.cli(["history", "loki"])).code).toBe(0);
    const sqlitePath = join(env.dir, "jarvis.sqlite");
    const url = await server.createDatabase();

    const migrated = await env.cli(["store", "migrate", "--from", `sqlite:${sqlitePath}`, "--to", url]);
    expect(migrated.code, migrated.stderr).toBe(0);
    expect(migrated.stdout).toMatch(/^runs: 2 rows$/m);
    expect(migrated.stdout).toContain("counts match on both sides");

    const sqlite = openSqliteStore(sqlitePath);
    const postgres = await openPostgresStore(url);
    try {
      const before = await contents(sqlite);
      expect(before.perRun).toHaveLength(2);
      expect(before.events.length).toBeGreaterThan(10);
      expect(before.audit.length).toBeGreaterThanOrEqual(3);
      expect(await contents(postgres)).toEqual(before);
      // The copied feed goes on from where the SQLite one stopped.
      const last = await sqlite.latestSeq();
      expect(await postgres.latestSeq()).toBe(last);
      const next = await postgres.createRun({
        host: "odin",
        pipeline: "good",
        pipelineJson: "{}",
        totalSteps: 1,
        requestedBy: "test",
        origin: "cli",
        source: "odin.yml",
        clipboardYaml: "a: 1\n",
        stepNames: ["ok:first"],
      });
      expect((await postgres.readEvents(last)).map((e) => [e.seq, e.runId])).toEqual([[last + 1, next.id]]);
    } finally {
      await sqlite.close();
      await postgres.close();
    }

    // A target that holds data is refused unless --replace says to empty it; the password never shows.
    const again = await env.cli(["store", "migrate", "--from", `sqlite:${sqlitePath}`, "--to", url]);
    expect(again.code).toBe(5);
    expect(again.stderr).toContain("--replace");
    expect(again.stderr + again.stdout).not.toContain(server.password);
    const replaced = await env.cli([
      "store",
      "migrate",
      "--from",
      `sqlite:${sqlitePath}`,
      "--to",
      url,
      "--replace",
    ]);
    expect(replaced.code, replaced.stderr).toBe(0);
    const check = await openPostgresStore(url);
    expect((await check.listRuns({})).map((r) => r.host).sort()).toEqual(["loki", "thor"]);
    await check.close();
  });

  it("refuses a wrong command line without echoing the URL", async () => {
    const env = makeJarvisEnv();
    const noFrom = await env.cli(["store", "migrate", "--to", "postgres://u:hunter2@db/x"]);
    expect(noFrom.code).toBe(2);
    expect(noFrom.stderr).toContain("--from must name a SQLite store");
    expect(noFrom.stderr).not.toContain("hunter2");
    const badTo = await env.cli([
      "store",
      "migrate",
      "--from",
      "sqlite:x.sqlite",
      "--to",
      "mysql://u:hunter2@db",
    ]);
    expect(badTo.code).toBe(2);
    expect(badTo.stderr).not.toContain("hunter2");
  });
});
