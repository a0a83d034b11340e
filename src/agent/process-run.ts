/**
 * One node-side process: its own process group (so a timeout or a cancel kills everything it
 * started), a clean minimal environment, and only the tails of its output kept.
 */
import { spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";

/** How much of stdout and of stderr a result carries back. */
export const OUTPUT_TAIL_BYTES = 4096;
/** Between SIGTERM and SIGKILL to the process group. */
const KILL_GRACE_MS = 2000;

export interface ProcessOutcome {
  exitCode: number | null;
  signal: string | null;
  stdoutTail: string;
  stderrTail: string;
  /** Why it was stopped, when it was. */
  stopped: "timeout" | "cancelled" | undefined;
  /** It could not be started at all (no such program). */
  spawnError: string | undefined;
}

export async function runProcess(
  argv: readonly string[],
  options: { timeoutMs: number; signal: AbortSignal },
): Promise<ProcessOutcome> {
  const [cmd, ...args] = argv;
  const child = spawn(cmd!, args, {
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", LANG: "C.UTF-8" },
  });
  const stdout = new Tail();
  const stderr = new Tail();
  child.stdout.on("data", (c: Buffer) => stdout.push(c));
  child.stderr.on("data", (c: Buffer) => stderr.push(c));
  let stopped: ProcessOutcome["stopped"];
  const stop = (why: "timeout" | "cancelled"): void => {
    if (stopped || child.exitCode !== null || child.pid === undefined) return;
    stopped = why;
    killGroup(child.pid, "SIGTERM");
    const pid = child.pid;
    void sleep(KILL_GRACE_MS, undefined, { ref: false }).then(() => killGroup(pid, "SIGKILL"));
  };
  const timer = setTimeout(() => stop("timeout"), options.timeoutMs);
  const onAbort = (): void => stop("cancelled");
  options.signal.addEventListener("abort", onAbort);
  if (options.signal.aborted) onAbort();
  const outcome = await new Promise<ProcessOutcome>((resolve) => {
    child.on("error", (err) =>
      resolve({
        exitCode: null,
        signal: null,
        stdoutTail: "",
        stderrTail: "",
        stopped: undefined,
        spawnError: err.message,
      }),
    );
    child.on("close", (code, signal) =>
      resolve({
        exitCode: code,
        signal,
        stdoutTail: stdout.text(),
        stderrTail: stderr.text(),
        stopped,
        spawnError: undefined,
      }),
    );
  });
  clearTimeout(timer);
  options.signal.removeEventListener("abort", onAbort);
  // Whatever the leader left behind in its group goes with it.
  if (child.pid !== undefined) killGroup(child.pid, "SIGKILL");
  return outcome;
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}

/** The last OUTPUT_TAIL_BYTES of a stream, without keeping the rest. */
class Tail {
  private chunks: Buffer[] = [];
  private size = 0;
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.chunks.length > 1 && this.size - this.chunks[0]!.length >= OUTPUT_TAIL_BYTES) {
      this.size -= this.chunks.shift()!.length;
    }
  }
  text(): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - OUTPUT_TAIL_BYTES)).toString("utf8");
  }
}
