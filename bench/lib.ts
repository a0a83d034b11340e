/** Shared pieces of the benchmarks: a throwaway jarvis, a bare-spawn floor, and printing. */
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { spawn } from "node:child_process";
import { buildConfig } from "../src/config.js";
import { openJarvis } from "../src/service.js";
import type { Jarvis } from "../src/service.js";

/** The repository root (bench files are compiled to dist/bench). */
export const root = resolve(import.meta.dirname, "..", "..");

/** A jarvis on a temp store with the given pipelines; the bench steps dir comes first. */
export async function benchJarvis(
  pipelines: Record<string, string>,
  /** More jarvis.yml sections (the NATS bench's `executor`). */
  extra: Record<string, unknown> = {},
): Promise<{ jarvis: Jarvis; dir: string; cleanup(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "jarvis-bench-"));
  mkdirSync(join(dir, "pipelines"));
  for (const [name, text] of Object.entries(pipelines))
    writeFileSync(join(dir, "pipelines", `${name}.yml`), text);
  const config = buildConfig(
    {
      value: {
        store: { path: join(dir, "jarvis.sqlite") },
        steps: { dirs: [join(root, "bench/steps")] },
        pipelines: { dirs: [join(dir, "pipelines")] },
        // The benches' designs are written in this dir, and the big-clipboard bench needs room.
        designs: { dirs: [dir], max_bytes: 64 * 1024 * 1024 },
        ...extra,
      },
      source: "bench",
      lineOf: () => undefined,
    },
    join(dir, "jarvis.yml"),
  );
  const jarvis = await openJarvis(config);
  return {
    jarvis,
    dir,
    async cleanup() {
      await jarvis.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Spawn a program with `input` on stdin and wait for it, discarding its output: the floor. */
export function spawnBare(command: string, args: string[], input: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, {
      stdio: ["pipe", "pipe", "pipe"],
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    });
    child.stdout.resume();
    child.stderr.resume();
    child.stdin.on("error", () => undefined);
    child.stdin.end(input);
    child.on("error", reject);
    child.on("close", () => resolvePromise());
  });
}

/** Milliseconds taken by fn. */
export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

/** Print one figure next to its floor, the ratio and the goal. */
export function report(name: string, measured: number, floor: number, unit: string, goal: string): void {
  const ratio = measured / floor;
  console.log(
    `${name.padEnd(44)} ${fmt(measured)} ${unit}  floor ${fmt(floor)} ${unit}  ratio ${ratio.toFixed(2)}x  (goal ${goal})`,
  );
}

/** The middle value (the mean of the two middle ones for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** A number with sensible precision. */
export function fmt(n: number): string {
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

/** A pipeline of `count` copies of one step. */
export function repeatedPipeline(uses: string, count: number): string {
  return `description: bench\nsteps:\n${Array.from({ length: count }, () => `  - ${uses}\n`).join("")}`;
}

/** A design for host `name`. */
export function benchDesign(dir: string, name: string, extra = ""): string {
  const path = join(dir, `${name}.yml`);
  writeFileSync(path, `instance:\n  hostname: ${name}\n${extra}`);
  return path;
}
