/**
 * A jarvis set-up whose steps run on `jarvis worker` processes over a real nats-server: the
 * jarvis.yml names the NATS executor, and each worker is the real CLI in its own process, its
 * output kept so tests can see which worker ran what.
 */
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { makeJarvisEnv } from "../../helpers/jarvis-env.js";
import { eventually } from "../../helpers/net.js";
import type { ChildProcess } from "node:child_process";
import type { JarvisEnv } from "../../helpers/jarvis-env.js";

/** Generous: the machine is shared and slow at times. */
export const DEADLINE = 120_000;

/** A `jarvis worker` process. */
export interface WorkerProcess {
  child: ChildProcess;
  output(): string;
  /** Steps it started (`running <step> (...)` lines). */
  ran(): string[];
  stop(): Promise<void>;
}

/** A jarvis env with `executor: {nats: {url}}` and the given pipelines. */
export function natsJarvisEnv(url: string, pipelines: Record<string, string>): JarvisEnv {
  return makeJarvisEnv({ pipelines, extraConfig: `executor:\n  nats:\n    url: ${url}\n` });
}

/** Start `jarvis worker` with `args`, and wait until it takes requests. */
export async function spawnWorker(env: JarvisEnv, args: string[]): Promise<WorkerProcess> {
  const child = env.spawnCli(["worker", ...args]);
  let output = "";
  child.stdout?.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr?.on("data", (c: Buffer) => (output += c.toString()));
  await eventually(
    () => (/takes requests/.test(output) ? true : undefined),
    DEADLINE,
    "the worker to take requests",
  );
  return {
    child,
    output: () => output,
    ran: () => [...output.matchAll(/running (\S+) \(/g)].map((m) => m[1]!),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await gone;
    },
  };
}

/** Exit code of a child, once it has exited. */
export function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once("exit", (code) => resolve(code));
  });
}

/** Lines of a count-*.log the counting fixtures write. */
export function countLines(env: JarvisEnv, task: string): string[] {
  const path = join(env.dir, `count-${task}.log`);
  return existsSync(path) ? readFileSync(path, "utf8").trim().split("\n").filter(Boolean) : [];
}

/** Processes on this machine whose environment says they are a step of `runId`. */
export function stepProcesses(runId: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, "utf8").split("\0").includes(`JARVIS_RUN_ID=${runId}`))
        found.push(Number(entry));
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

/** `jarvis status HOST --json`, or undefined before the host has a run. */
export async function statusOf(
  env: JarvisEnv,
  host: string,
): Promise<{ state: string; run: string; step: { index: number; name: string } | null } | undefined> {
  const { code, stdout } = await env.cli(["status", host, "--json"]);
  return code === 0 ? JSON.parse(stdout) : undefined;
}
