/**
 * The PostgreSQL RunStore against a real PostgreSQL 15: the whole store contract, then what only
 * PostgreSQL has (migrations under concurrent starts, LISTEN/NOTIFY waking followers in another
 * store instance, the password kept out of errors).
 */
import { setImmediate as nextTurn } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { openPostgresStore } from "../../../src/store/postgres-store.js";
import { openStore } from "../../../src/store/registry.js";
import { MIGRATIONS } from "../../../src/store/postgres-migrations.js";
import { runStoreContract } from "../../contract/run-store.contract.js";
import { fleetStoreContract } from "../../contract/fleet-store.contract.js";
import { openFleetStore, openPostgresFleetStore } from "../../../src/nodes/fleet-store.js";
import { startPostgres } from "../servers/postgres.js";
import type { PostgresServer } from "../servers/postgres.js";
import type { RunEvent } from "../../../src/protocol.js";
import type { RunStore } from "../../../src/store/run-store.js";

let server: PostgresServer;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server?.stop();
});

runStoreContract(
  "postgres",
  async () => openPostgresStore(await server.createDatabase()),
  async () => {
    const url = await server.createDatabase();
    return Promise.all([openPostgresStore(url), openPostgresStore(url)]);
  },
);

fleetStoreContract(
  "postgres",
  async () => openPostgresFleetStore(await server.createDatabase()),
  async () => {
    const url = await server.createDatabase();
    return Promise.all([openPostgresFleetStore(url), openPostgresFleetStore(url)]);
  },
);

describe("PostgreSQL store", () => {
  it("keeps the agents' nodes and jobs in PostgreSQL when jarvis.yml names it", async () => {
    const url = await server.createDatabase();
    const fleet = await openFleetStore({ kind: "postgres", path: "/nonexistent/unused.sqlite", url });
    await fleet.nodes.recordHeartbeat({
      host: "web-1",
      at: 1,
      agentVersion: "1",
      groups: [],
      offlineAfterMs: 1,
    });
    await fleet.close();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const rows = await client.query<{ host: string }>("SELECT host FROM nodes");
    await client.end();
    expect(rows.rows).toEqual([{ host: "web-1" }]);
  });

  it("applies its migrations once when several processes start at the same moment", async () => {
    const url = await server.createDatabase();
    const stores = await Promise.all([1, 2, 3, 4].map(() => openPostgresStore(url)));
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const versions = await client.query<{ version: number }>("SELECT version FROM schema_migrations");
    await client.end();
    expect(versions.rows.map((r) => r.version).sort((a, b) => a - b)).toEqual(
      MIGRATIONS.map((m) => m.version),
    );
    await Promise.all(stores.map((s) => s.close()));
  });

  it("wakes a follower in another store instance by NOTIFY, without polling", async () => {
    const url = await server.createDatabase();
    const writer: RunStore = await openPostgresStore(url);
    const reader: RunStore = await openPostgresStore(url);
    const stop = new AbortController();
    const seen: RunEvent[] = [];
    // An hour between polls: only a notification can deliver these events within the test's time.
    const following = (async () => {
      for await (const event of reader.follow(0, { signal: stop.signal, pollMs: 3_600_000 })) {
        seen.push(event);
        if (seen.length === 3) stop.abort();
      }
    })();
    const base = {
      pipeline: "p",
      pipelineJson: "{}",
      totalSteps: 1,
      requestedBy: "test",
      origin: "cli",
      clipboardYaml: "a: 1\n",
      stepNames: ["ok:a"],
    };
    // Wait until the follower has read the empty feed and sleeps, then append from the other store.
    await new Promise((r) => setImmediate(r));
    for (const host of ["loki", "thor", "odin"]) {
      await writer.createRun({ ...base, host, source: `${host}.yml` });
    }
    await following;
    expect(seen.map((e) => e.host)).toEqual(["loki", "thor", "odin"]);
    await Promise.all([writer.close(), reader.close()]);
  });

  it("listens again when its LISTEN connection is terminated, and followers keep being woken", async () => {
    const url = await server.createDatabase();
    const writer: RunStore = await openPostgresStore(url);
    const reader: RunStore = await openPostgresStore(url);
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    const listeners = async (): Promise<number[]> =>
      (
        await admin.query<{ pid: number }>(
          "SELECT pid FROM pg_stat_activity WHERE query = 'LISTEN jarvis_feed' AND datname = current_database()",
        )
      ).rows.map((r) => r.pid);
    const base = {
      pipeline: "p",
      pipelineJson: "{}",
      totalSteps: 1,
      requestedBy: "test",
      origin: "cli",
      clipboardYaml: "a: 1\n",
      stepNames: ["ok:a"],
    };
    const stop = new AbortController();
    const seen: string[] = [];
    // An hour between polls: only a notification (or the re-read after listening again) delivers.
    const following = (async () => {
      for await (const event of reader.follow(0, { signal: stop.signal, pollMs: 3_600_000 })) {
        seen.push(event.host);
        if (seen.length === 3) stop.abort();
      }
    })();
    const waitFor = async <T>(what: string, probe: () => Promise<T | undefined>): Promise<T> => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const value = await probe();
        if (value !== undefined) return value;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const [first] = await waitFor("the reader's LISTEN connection", async () => {
      const pids = await listeners();
      return pids.length === 1 ? pids : undefined;
    });
    await writer.createRun({ ...base, host: "loki", source: "loki.yml" });
    await waitFor("loki's event", async () => (seen.length === 1 ? true : undefined));

    const terminated = await admin.query<{ ok: boolean }>("SELECT pg_terminate_backend($1) AS ok", [first]);
    expect(terminated.rows[0]?.ok).toBe(true);
    // Appended while nobody listens: read once the connection is back.
    await writer.createRun({ ...base, host: "thor", source: "thor.yml" });
    const [second] = await waitFor("a new LISTEN connection", async () => {
      const pids = await listeners();
      return pids.length === 1 && pids[0] !== first ? pids : undefined;
    });
    expect(second).not.toBe(first);
    await waitFor("thor's event", async () => (seen.length === 2 ? true : undefined));
    // And the new connection is woken by notifications, not only by the re-read.
    await writer.createRun({ ...base, host: "odin", source: "odin.yml" });
    await following;
    expect(seen).toEqual(["loki", "thor", "odin"]);
    await admin.end();
    await Promise.all([writer.close(), reader.close()]);
  });

  it("numbers events by commit: a follower sees every append of two busy processes, none skipped", async () => {
    const url = await server.createDatabase();
    const [one, two, reader] = await Promise.all([1, 2, 3].map(() => openPostgresStore(url)));
    const stores = [one!, two!];
    const base = {
      pipeline: "p",
      pipelineJson: "{}",
      totalSteps: 1,
      requestedBy: "test",
      origin: "cli",
      clipboardYaml: "a: 1\n",
      stepNames: ["ok:a"],
    };
    const step = { phase: "main" as const, index: 0, total: 1, name: "ok:a" };
    const stop = new AbortController();
    const seen: number[] = [];
    const LINES = 15;
    const RUNS = 8;
    const expected = RUNS * (1 + LINES);
    const following = (async () => {
      for await (const event of reader!.follow(0, { signal: stop.signal })) {
        seen.push(event.seq);
        if (seen.length === expected) stop.abort();
      }
    })();
    await Promise.all(
      Array.from({ length: RUNS }, async (_, i) => {
        const store = stores[i % 2]!;
        const run = await store.createRun({
          ...base,
          host: `h${i}`,
          source: `h${i}.yml`,
          lease: { owner: `p${i % 2}`, leaseMs: 60_000 },
        });
        const lease = { runId: run.id, owner: `p${i % 2}` };
        for (let n = 0; n < LINES; n++) {
          expect(await store.appendLog(lease, { step, attempt: 1, stream: "stderr", line: `l${n}` })).toBe(
            true,
          );
        }
      }),
    );
    await following;
    expect(seen).toEqual(Array.from({ length: expected }, (_, i) => i + 1));
    await Promise.all([one!.close(), two!.close(), reader!.close()]);
  });

  it("has ended every pooled connection when close() resolves: stopping the server then warns of nothing", async () => {
    // Its own server: this test stops it.
    const own = await startPostgres();
    const warnings: string[] = [];
    try {
      const store = await openPostgresStore(await own.createDatabase(), {
        warn: (message) => warnings.push(message),
      });
      // Several connections at once, so the pool holds more than one when it closes.
      await Promise.all(Array.from({ length: 8 }, () => store.listRuns({})));
      await store.close();
    } finally {
      await own.stop();
    }
    // A connection still open when the server stops reads its "terminating connection" error
    // in the next turns of the event loop.
    for (let turn = 0; turn < 10; turn++) await nextTurn();
    expect(warnings).toEqual([]);
  });

  it("opens from jarvis.yml settings and keeps the password out of its errors", async () => {
    const url = await server.createDatabase();
    const store = await openStore({ kind: "postgres", path: "unused", url });
    expect(await store.latestSeq()).toBe(0);
    await store.close();
    const wrong = url.replace(server.password, "not-the-password");
    const refused = await openStore({ kind: "postgres", path: "unused", url: wrong }).catch(
      (e: unknown) => e,
    );
    expect(refused).toMatchObject({ code: "E_STORE_OPEN" });
    expect(String((refused as Error).message)).toContain("postgres://jarvis:***@127.0.0.1");
    expect(String((refused as Error).message)).not.toContain("not-the-password");
  });
});
