/**
 * Store bookkeeping, PostgreSQL vs SQLite on the same load: runs of STEPS steps, one at a time
 * and many at a time, each doing what the engine writes per run and per step (create, claim, start; per
 * step a start write with its event, two log lines, a finish write with the output clipboard and
 * its event; finish), with a follower reading the whole feed as it grows. No step is forked: this
 * is the store's share of a step's overhead. PostgreSQL is Debian's 15 on loopback, started here.
 */
import { mkdtempSync, rmSync } from "node:fs";
import pg from "pg";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSqliteStore } from "../src/store/sqlite-store.js";
import { openPostgresStore } from "../src/store/postgres-store.js";
import { startPostgres } from "../test/integration/servers/postgres.js";
import { fmt, median, timed } from "./lib.js";
import type { RunStore } from "../src/store/run-store.js";

const STEPS = 20;
/** Runs and how many at a time: one alone (the store's latency), then many (its contention). */
const LOADS = [
  { runs: 20, concurrent: 1 },
  { runs: 200, concurrent: 20 },
];
const LEASE_MS = 60_000;
const CLIPBOARD = `instance:\n  hostname: bench\n${"  note: padding to a small real clipboard\n".repeat(40)}`;

interface StoreFigures {
  totalMs: number;
  perStepMs: number;
  medianStepMs: number;
  followerEvents: number;
}

async function oneRun(store: RunStore, host: string, stepMs: number[]): Promise<void> {
  const names = Array.from({ length: STEPS }, (_, i) => `noop:s${i}`);
  const run = await store.createRun({
    host,
    pipeline: "bench",
    pipelineJson: "{}",
    totalSteps: STEPS,
    requestedBy: "bench",
    origin: "bench",
    source: `${host}.yml`,
    clipboardYaml: CLIPBOARD,
    stepNames: names,
  });
  const owner = "bench-owner";
  await store.claim(run.id, owner, LEASE_MS);
  const lease = { runId: run.id, owner };
  await store.markStarted(lease);
  for (let index = 0; index < STEPS; index++) {
    const started = performance.now();
    const step = { phase: "main" as const, index, total: STEPS, name: names[index]! };
    await store.getSnapshot(run.id, index, "input");
    await store.writeStep(lease, index, {
      patch: { state: "running", attempts: 1, startedAt: Date.now(), pid: 4242 },
      moveRun: true,
      event: { type: "step-started", step, attempt: 1 },
    });
    for (const line of ["working", "done"]) {
      await store.appendLog(lease, { step, attempt: 1, stream: "stderr", line });
    }
    await store.writeStep(lease, index, {
      patch: { state: "ok", finishedAt: Date.now(), durationMs: 1, pid: null },
      output: `${CLIPBOARD}s${index}: ok\n`,
      event: { type: "step-finished", step, state: "ok", error: null },
    });
    stepMs.push(performance.now() - started);
  }
  await store.finishIfOwner(lease, { state: "succeeded", error: null });
}

async function load(store: RunStore, runs: number, concurrent: number): Promise<StoreFigures> {
  const stepMs: number[] = [];
  const stop = new AbortController();
  let followerEvents = 0;
  const following = (async () => {
    for await (const event of store.follow(await store.latestSeq(), { signal: stop.signal })) {
      void event;
      followerEvents++;
    }
  })();
  let next = 0;
  const totalMs = await timed(() =>
    Promise.all(
      Array.from({ length: concurrent }, async () => {
        while (next < runs) await oneRun(store, `host${next++}`, stepMs);
      }),
    ),
  );
  // Every event appended: per run 4 (queued, started, finished) + 4 per step.
  const expected = runs * (3 + 4 * STEPS);
  const deadline = Date.now() + 60_000;
  while (followerEvents < expected && Date.now() < deadline) await new Promise((r) => setImmediate(r));
  stop.abort();
  await following;
  return { totalMs, perStepMs: totalMs / (runs * STEPS), medianStepMs: median(stepMs), followerEvents };
}

/** Run the store benchmark and print both stores' figures side by side. */
export async function benchStore(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "jarvis-bench-store-"));
  const server = await startPostgres();
  try {
    // The floor under every PostgreSQL figure: one round trip to the server, on this machine now.
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    const trips: number[] = [];
    for (let i = 0; i < 200; i++) trips.push(await timed(() => client.query("SELECT 1")));
    await client.end();
    console.log(`PostgreSQL round trip (SELECT 1), median: ${fmt(median(trips))} ms`);
    for (const { runs, concurrent } of LOADS) {
      const sqlite = openSqliteStore(join(dir, `bench-${concurrent}.sqlite`));
      const sqliteFigures = await load(sqlite, runs, concurrent);
      await sqlite.close();
      const postgres = await openPostgresStore(await server.createDatabase(`bench_${concurrent}`));
      const postgresFigures = await load(postgres, runs, concurrent);
      await postgres.close();
      console.log(`${runs} runs x ${STEPS} steps, ${concurrent} at a time, one follower`);
      console.log(`${"".padEnd(36)} ${"SQLite".padStart(10)} ${"PostgreSQL".padStart(12)}`);
      const row = (name: string, pick: (f: StoreFigures) => number, unit: string): void =>
        console.log(
          `${name.padEnd(36)} ${`${fmt(pick(sqliteFigures))} ${unit}`.padStart(10)} ${`${fmt(pick(postgresFigures))} ${unit}`.padStart(12)}`,
        );
      row("whole load", (f) => f.totalMs, "ms");
      row("store time per step (wall / steps)", (f) => f.perStepMs, "ms");
      row("one step's bookkeeping, median", (f) => f.medianStepMs, "ms");
      row("events the follower saw", (f) => f.followerEvents, "");
    }
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
