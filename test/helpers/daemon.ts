/** A real server process started by a test: waited for on its port, stopped for sure. */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { waitForPort } from "./net.js";

/** A started daemon. */
export interface Daemon {
  child: ChildProcess;
  /** The last 4 KB of what it wrote (stdout and stderr). */
  log(): string;
  /** SIGTERM, then SIGKILL after 10 s; resolves once it has exited. */
  stop(): Promise<void>;
}

/**
 * Start `command` and wait until it is ready: accepting connections on 127.0.0.1:`ready` when that
 * is a port, else until the `ready` probe resolves. Its stderr is kept for the error if it never is.
 */
export async function startDaemon(
  name: string,
  command: string,
  args: string[],
  ready: number | (() => Promise<unknown>),
  timeoutMs = 30_000,
): Promise<Daemon> {
  const child: ChildProcess = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  const keep = (c: Buffer): void => void (log = (log + c.toString()).slice(-4000));
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  try {
    await (typeof ready === "number" ? waitForPort(ready, "127.0.0.1", timeoutMs) : ready());
  } catch (err) {
    child.kill("SIGKILL");
    throw new Error(`${name} did not start: ${String(err)}\n${log}`);
  }
  return {
    child,
    log: () => log,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** SIGTERM `child` (a `jarvis start`, say) and wait until it has exited; at once if it has. */
export async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

/** Whether a process with this pid exists (signal 0 checks without sending anything). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
