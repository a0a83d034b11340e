/**
 * Step overhead: a 50-step pipeline of a trivial shell step and of a trivial built-in Node step,
 * against spawning the same programs 50 times bare with the same input.
 */
import { join } from "node:path";
import { benchDesign, benchJarvis, median, repeatedPipeline, report, root, spawnBare, timed } from "./lib.js";

const STEPS = 50;
const ROUNDS = 3;
const who = { identity: "bench", origin: "bench" };

/** Run the step-overhead benchmark and print its figures. */
export async function benchStepOverhead(): Promise<void> {
  const { jarvis, dir, cleanup } = await benchJarvis({
    shell: repeatedPipeline("noop:pass", STEPS),
    node: repeatedPipeline("demo:greet", STEPS),
  });
  try {
    const input = "instance:\n  hostname: bench\n";
    const noop = join(root, "bench/steps/noop");
    const demo = join(root, "dist/src/workers/demo.js");
    // Warm the page cache and Node's compile cache for both sides alike.
    await spawnBare(noop, ["pass"], input);
    await spawnBare(process.execPath, [demo, "greet"], input);

    for (const [pipeline, command, args, goal] of [
      ["shell", noop, ["pass"], "<= 1.3x"],
      ["node", process.execPath, [demo, "greet"], "<= 1.2x"],
    ] as const) {
      // Both sides warmed up, then the median of ROUNDS alternating rounds: the machine is shared.
      const floors: number[] = [];
      const measures: number[] = [];
      for (let round = 0; round <= ROUNDS; round++) {
        const floor = await timed(async () => {
          for (let i = 0; i < STEPS; i++) await spawnBare(command, [...args], input);
        });
        const design = benchDesign(dir, `bench-${pipeline}-${round}`);
        const measured = await timed(async () => {
          const run = await jarvis.control.start(pipeline, design, who, { foreground: true });
          const final = await jarvis.engine.execute(run.id);
          if (final.state !== "succeeded") throw new Error(`bench run failed: ${final.error?.message}`);
        });
        if (round === 0) continue; // warm-up
        floors.push(floor);
        measures.push(measured);
      }
      const floor = median(floors);
      const measured = median(measures);
      report(`${STEPS} ${pipeline} steps (pipeline vs bare spawn)`, measured, floor, "ms", goal);
      console.log(
        `${"".padEnd(44)} per step: ${((measured - floor) / STEPS).toFixed(2)} ms above the bare spawn (median of ${ROUNDS})`,
      );
    }
  } finally {
    await cleanup();
  }
}
