/**
 * Store bookkeeping, PostgreSQL vs SQLite on the same load: runs of STEPS steps, one at a time
 * and many at a time, each doing what the engine writes per run and per step (create, claim, start; per
 * step a start write with its event, two log lines, a finish write with the output clipboard and
 * its event; finish), with a follower reading the whole feed as it grows; and one chatty step's
 * log lines, handed over together and one at a time. No step is forked: this
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
    // As the engine does: lines handed over as they come, all kept before the step's end.
    await Promise.all(
      ["working", "done"].map((line) => store.appendLog(lease, { step, attempt: 1, stream: "stderr", line })),
    );
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

/** Lines one chatty step writes in the log-burst figure. */
const BURST_LINES = 200;

/**
 * One step writing BURST_LINES lines as a child's output chunk brings them (handed over without
 * waiting for each, as the engine does), then its end; and the same lines one at a time, each
 * awaited (what the engine did before, and a store that writes a line per statement costs). The
 * ms per line of each.
 */
async function logBurst(store: RunStore): Promise<{ burstMs: number; oneByOneMs: number }> {
  const run = await store.createRun({
    host: "burst",
    pipeline: "bench",
    pipelineJson: "{}",
    totalSteps: 1,
    requestedBy: "bench",
    origin: "bench",
    source: "burst.yml",
    clipboardYaml: CLIPBOARD,
    stepNames: ["noop:burst"],
    lease: { owner: "bench-owner", leaseMs: LEASE_MS },
  });
  const lease = { runId: run.id, owner: "bench-owner" };
  const step = { phase: "main" as const, index: 0, total: 1, name: "noop:burst" };
  const line = (i: number) => ({ step, attempt: 1, stream: "stderr" as const, line: `output line ${i}` });
  const burst: number[] = [];
  const oneByOne: number[] = [];
  for (let round = 0; round < 5; round++) {
    burst.push(
      await timed(async () => {
        await Promise.all(Array.from({ length: BURST_LINES }, (_, i) => store.appendLog(lease, line(i))));
      }),
    );
    oneByOne.push(
      await timed(async () => {
        for (let i = 0; i < BURST_LINES; i++) await store.appendLog(lease, line(i));
      }),
    );
  }
  await store.finishIfOwner(lease, { state: "succeeded", error: null });
  return { burstMs: median(burst) / BURST_LINES, oneByOneMs: median(oneByOne) / BURST_LINES };
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
    const sqlite = openSqliteStore(join(dir, "bench-burst.sqlite"));
    const sqliteBurst = await logBurst(sqlite);
    await sqlite.close();
    const postgres = await openPostgresStore(await server.createDatabase("bench_burst"));
    const postgresBurst = await logBurst(postgres);
    await postgres.close();
    console.log(`one step's ${BURST_LINES} log lines, median of 5, per line`);
    console.log(`${"".padEnd(36)} ${"SQLite".padStart(10)} ${"PostgreSQL".padStart(12)}`);
    for (const [name, pick] of [
      ["handed over together", (f: typeof sqliteBurst) => f.burstMs],
      ["one at a time, each awaited", (f: typeof sqliteBurst) => f.oneByOneMs],
    ] as const)
      console.log(
        `${name.padEnd(36)} ${`${fmt(pick(sqliteBurst))} ms`.padStart(10)} ${`${fmt(pick(postgresBurst))} ms`.padStart(12)}`,
      );
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
