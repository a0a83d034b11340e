/**
 * `status` of every host at scale: 100,000 runs over 5,000 and over 10,000 hosts. The per-host
 * index (every host, redacted, as `status` and GET /hosts list them) next to the goal and next to
 * the scan it replaced (the newest 5,000 runs, one step read per host found, and the hosts it
 * misses). Also what filling the index costs when an old store is opened the first time.
 */
import Database from "better-sqlite3";
import { join } from "node:path";
import { openSqliteStore } from "../src/store/sqlite-store.js";
import { benchJarvis, fmt, median, timed } from "./lib.js";
import type { RunRecord } from "../src/store/run-store.js";

const RUNS = 100_000;
const SAMPLES = 5;

/** Insert `runs` finished runs (3 steps each) spread over `hosts` hosts, oldest first. */
function fill(path: string, runs: number, hosts: number): void {
  const db = new Database(path);
  const insertRun = db.prepare(
    `INSERT INTO runs (id, host, pipeline, pipeline_json, state, step_index, step_name, total_steps, requested_by,
       origin, source, created_at, started_at, finished_at)
     VALUES (?, ?, 'deploy', '{}', ?, 2, 'ok:c', 3, 'bench', 'cli', ?, ?, ?, ?)`,
  );
  const insertStep = db.prepare(`INSERT INTO steps (run_id, idx, name, state) VALUES (?, ?, ?, 'ok')`);
  const start = Date.now() - runs * 1000;
  db.transaction(() => {
    for (let i = 0; i < runs; i++) {
      const id = `r${String(i).padStart(7, "0")}`;
      const host = `host${String(i % hosts).padStart(5, "0")}`;
      const at = start + i * 1000;
      insertRun.run(id, host, i % 7 === 0 ? "failed" : "succeeded", `cn=${host}`, at, at, at + 500);
      for (let s = 0; s < 3; s++) insertStep.run(id, s, `ok:${s}`);
    }
  })();
  db.close();
}

async function medianOf(fn: () => Promise<void>): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < SAMPLES; i++) samples.push(await timed(fn));
  return median(samples);
}

async function one(hosts: number): Promise<void> {
  const bench = await benchJarvis({});
  const path = join(bench.dir, "jarvis.sqlite");
  try {
    const fillMs = await timed(async () => fill(path, RUNS, hosts));
    const { control, store } = bench.jarvis;
    let listed = 0;
    // Every host, page by page and redacted, as `jarvis status` and GET /hosts list them.
    const index = await medianOf(async () => {
      listed = 0;
      let after: string | undefined;
      do {
        const page = await control.hosts({ limit: 1000, ...(after === undefined ? {} : { after }) });
        listed += page.hosts.length;
        after = page.next ?? undefined;
      } while (after !== undefined);
    });
    const raw = await medianOf(async () => {
      let after: string | undefined;
      do {
        const page = await store.listHosts({ limit: 1000, ...(after === undefined ? {} : { after }) });
        after = page.next ?? undefined;
      } while (after !== undefined);
    });
    // The floor: reading as many rows of the same columns straight from runs, in storage order.
    const reader = new Database(path, { readonly: true });
    const floor = await medianOf(async () => {
      reader
        .prepare(
          `SELECT id, host, pipeline, state, step_index, step_name, total_steps, requested_by, origin, source,
           created_at, started_at, finished_at, error_json, group_id, after_json, forced FROM runs LIMIT ?`,
        )
        .all(hosts);
    });
    reader.close();
    // The scan `status` did before the index: the newest 5,000 runs, each host's first, its steps.
    let found = 0;
    const scan = await medianOf(async () => {
      const seen = new Set<string>();
      const latest = (await store.listRuns({ limit: 5000 })).filter(
        (r: RunRecord) => !seen.has(r.host) && seen.add(r.host),
      );
      await Promise.all(latest.map((r) => store.listSteps(r.id)));
      found = latest.length;
    });
    console.log(
      `status, every host: ${hosts} hosts, ${RUNS} runs`.padEnd(44),
      `index ${fmt(index)} ms (${listed} hosts; store alone ${fmt(raw)} ms, floor ${fmt(floor)} ms: reading ${hosts} run rows)  old scan ${fmt(scan)} ms (${found} of ${hosts} hosts)  (goal < 50 ms for 10,000 hosts)`,
    );
    await bench.jarvis.store.close();
    // An old store, opened for the first time by this jarvis: the index is filled from its runs.
    const db = new Database(path);
    db.exec(
      `DROP TRIGGER hosts_on_run_insert; DROP TRIGGER hosts_on_run_update; DROP TRIGGER hosts_on_run_delete; DROP TABLE hosts`,
    );
    db.close();
    const migrateMs = await timed(async () => openSqliteStore(path).close());
    console.log(
      `  filling the index from ${RUNS} runs (first open)`.padEnd(44),
      `${fmt(migrateMs)} ms  (inserting the runs with the index's triggers: ${fmt(fillMs)} ms)`,
    );
  } finally {
    await bench.cleanup();
  }
}

/** Run the host-index benchmark and print its figures. */
export async function benchHosts(): Promise<void> {
  await one(5_000);
  await one(10_000);
}
