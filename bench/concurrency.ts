/**
 * Concurrency: 200 runs of 20 trivial shell steps at once, against the bare-spawn floor for the
 * same 4000 processes in 200 parallel chains, with jarvis's peak memory (RSS of this process,
 * which is the jarvis that executes them).
 */
import { join } from "node:path";
import { benchDesign, benchJarvis, fmt, repeatedPipeline, report, root, spawnBare, timed } from "./lib.js";

const RUNS = 200;
const STEPS = 20;
const who = { identity: "bench", origin: "bench" };

/** Run the concurrency benchmark and print its figures. */
export async function benchConcurrency(): Promise<void> {
  const { jarvis, dir, cleanup } = await benchJarvis({ many: repeatedPipeline("noop:pass", STEPS) });
  try {
    const input = "instance:\n  hostname: bench\n";
    const noop = join(root, "bench/steps/noop");
    const floor = await timed(() =>
      Promise.all(
        Array.from({ length: RUNS }, async () => {
          for (let i = 0; i < STEPS; i++) await spawnBare(noop, ["pass"], input);
        }),
      ),
    );
    const designs = Array.from({ length: RUNS }, (_, i) => benchDesign(dir, `host${i}`));
    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }, 20);
    let failed = 0;
    const measured = await timed(async () => {
      const runs = await Promise.all(
        designs.map((d) => jarvis.control.start("many", d, who, { foreground: true })),
      );
      const finals = await Promise.all(runs.map((r) => jarvis.engine.execute(r.id)));
      failed = finals.filter((r) => r.state !== "succeeded").length;
    });
    clearInterval(sampler);
    report(`${RUNS} runs x ${STEPS} shell steps at once`, measured, floor, "ms", "<= 1.5x");
    console.log(
      `${"".padEnd(44)} peak RSS of jarvis ${fmt(peakRss / 1024 / 1024)} MB (goal < 300 MB)${failed ? `; ${failed} runs FAILED` : ""}`,
    );
  } finally {
    await cleanup();
  }
}
