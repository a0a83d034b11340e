/**
 * Steps through NATS JetStream to `jarvis worker` processes (each a real CLI process on this
 * machine, over a real nats-server): the per-step overhead against the local fork, side by side,
 * then 200 runs x 20 steps with 1, 2 and 4 workers. `BENCH_NATS_RUNS` changes the 200.
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startNatsServer } from "../test/integration/servers/nats-server.js";
import { benchDesign, benchJarvis, fmt, median, repeatedPipeline, root, timed } from "./lib.js";
import type { ChildProcess } from "node:child_process";
import type { Jarvis } from "../src/service.js";

const STEPS = 20;
// Rounds of the per-step comparison: one round swings by a few ms with what else the 2 cores do.
const ROUNDS = 9;
const RUNS = Number(process.env.BENCH_NATS_RUNS ?? 200);
/** Steps one worker runs at once in the throughput part (a worker machine runs several). */
const WORKER_CONCURRENCY = 8;
const who = { identity: "bench", origin: "bench" };

/** Run the NATS worker benchmark and print its figures. */
export async function benchNatsWorkers(): Promise<void> {
  const server = await startNatsServer();
  const pipelines = { many: repeatedPipeline("noop:pass", STEPS) };
  const local = await benchJarvis(pipelines);
  const remote = await benchJarvis(pipelines, { executor: { nats: { url: server.url } } });
  const workerConfig = join(remote.dir, "worker.yml");
  writeFileSync(workerConfig, `steps:\n  dirs: [${join(root, "bench/steps")}]\n`);
  const workers: ChildProcess[] = [];
  const addWorkers = async (count: number, concurrency: number): Promise<void> => {
    while (workers.length < count) workers.push(await spawnWorker(server.url, workerConfig, concurrency));
  };
  const stopWorkers = async (): Promise<void> => {
    await Promise.all(workers.splice(0).map(stopWorker));
  };
  try {
    await addWorkers(1, 1);
    const oneRun = async (jarvis: Jarvis, dir: string, name: string): Promise<number> => {
      const design = benchDesign(dir, name);
      return timed(async () => {
        const run = await jarvis.control.start("many", design, who, { foreground: true });
        const final = await jarvis.engine.execute(run.id);
        if (final.state !== "succeeded") throw new Error(`bench run failed: ${final.error?.message}`);
      });
    };
    const localTimes: number[] = [];
    const remoteTimes: number[] = [];
    for (let round = 0; round <= ROUNDS; round++) {
      const l = await oneRun(local.jarvis, local.dir, `local-${round}`);
      const r = await oneRun(remote.jarvis, remote.dir, `remote-${round}`);
      if (round === 0) continue; // warm-up: connections, consumers, caches
      localTimes.push(l / STEPS);
      remoteTimes.push(r / STEPS);
    }
    const perLocal = median(localTimes);
    const perRemote = median(remoteTimes);
    console.log(
      `${"per step, 20-step pipeline of noop:pass".padEnd(44)} local fork ${fmt(perLocal)} ms   via NATS worker ${fmt(perRemote)} ms`,
    );
    console.log(
      `${"".padEnd(44)} NATS adds ${fmt(perRemote - perLocal)} ms per step (goal <= 3 ms; median of ${ROUNDS})`,
    );
    await stopWorkers();

    for (const count of [1, 2, 4]) {
      await addWorkers(count, WORKER_CONCURRENCY);
      const designs = Array.from({ length: RUNS }, (_, i) => benchDesign(remote.dir, `w${count}-host${i}`));
      let failed = 0;
      const measured = await timed(async () => {
        const runs = await Promise.all(
          designs.map((d) => remote.jarvis.control.start("many", d, who, { foreground: true })),
        );
        const finals = await Promise.all(runs.map((r) => remote.jarvis.engine.execute(r.id)));
        failed = finals.filter((r) => r.state !== "succeeded").length;
      });
      const steps = RUNS * STEPS;
      console.log(
        `${`${RUNS} runs x ${STEPS} steps, ${count} worker(s) x ${WORKER_CONCURRENCY}`.padEnd(44)} ${fmt(measured)} ms  ${fmt((steps / measured) * 1000)} steps/s${failed ? `; ${failed} runs FAILED` : ""}`,
      );
      await stopWorkers();
    }
  } finally {
    await stopWorkers();
    await remote.cleanup();
    await local.cleanup();
    await server.stop();
  }
}

/** A `jarvis worker` process, once it takes requests. */
function spawnWorker(url: string, config: string, concurrency: number): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      join(root, "dist/src/cli/main.js"),
      "--config",
      config,
      "worker",
      "--nats",
      url,
      "--concurrency",
      String(concurrency),
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  return new Promise((resolve, reject) => {
    let output = "";
    child.stderr?.on("data", (c: Buffer) => {
      output += c.toString();
      if (/takes requests/.test(output)) resolve(child);
    });
    child.once("exit", () => reject(new Error(`jarvis worker exited: ${output}`)));
  });
}

function stopWorker(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}
