/**
 * Runs one attempt of one step as a child process, keeping DESIGN.md's step protocol: its own
 * process group, a clean environment, the clipboard YAML on stdin, the new clipboard on stdout
 * (empty = unchanged), stderr streamed line by line, exit 75 = retryable, a timeout kills the
 * whole group (SIGTERM, then SIGKILL), stdout over its limit or not one YAML mapping fails the step.
 *
 * This sits on the hot path of every step, so it does only what the protocol needs: no shell, no
 * extra buffering copies, no parse of stdin.
 */
import { spawn } from "node:child_process";
import { parseYamlMapping } from "../clipboard/yaml.js";
import { EXIT_RETRYABLE } from "../protocol.js";
import type { WireError } from "../protocol.js";

/** What to run and how. */
export interface StepInvocation {
  /** Full step name (`module:task`), for messages. */
  step: string;
  command: string;
  args: string[];
  /** The complete environment of the child (the caller builds the clean one). */
  env: Record<string, string>;
  cwd: string;
  /** The clipboard as YAML text, written to stdin. */
  input: string;
  timeoutMs: number;
  /** Time between SIGTERM and SIGKILL. */
  killGraceMs?: number;
  /** Largest accepted stdout (the new clipboard). */
  maxOutputBytes: number;
  /** Aborting cancels the step: the group is killed and the outcome is `cancelled`. */
  signal?: AbortSignal;
  /** Called with each stderr line as it arrives. */
  onLine(line: string): void;
  /** Called with the step's pid (= its process group id) once it runs. */
  onSpawn?(pid: number): void;
}

/** How the attempt ended. `output` is the new clipboard's YAML, or undefined when unchanged. */
export type StepAttemptResult =
  | {
      kind: "ok";
      output: string | undefined;
      clipboard: Record<string, unknown> | undefined;
      durationMs: number;
    }
  | { kind: "failed"; error: WireError; retryable: boolean; exitCode: number | null; durationMs: number }
  | { kind: "cancelled"; durationMs: number };

const MAX_LINE = 8 * 1024;

/** Run one attempt of a step. Never throws for the step's own failures; they are the result. */
export function runStepAttempt(inv: StepInvocation): Promise<StepAttemptResult> {
  const started = performance.now();
  const elapsed = (): number => Math.round(performance.now() - started);
  return new Promise((resolve) => {
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(inv.command, inv.args, {
        cwd: inv.cwd,
        env: inv.env,
        detached: true,
        stdio: ["pipe", "pipe", "pipe"],
      });
    } catch (err) {
      resolve(
        failed(
          inv,
          "E_STEP_SPAWN",
          `cannot start ${inv.command}: ${(err as Error).message}`,
          false,
          null,
          elapsed(),
        ),
      );
      return;
    }
    if (child.pid !== undefined) inv.onSpawn?.(child.pid);
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let partial = "";
    let lastLine = "";
    let stopReason: "timeout" | "cancelled" | "too-large" | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let spawnError: Error | undefined;

    const killGroup = (signal: NodeJS.Signals): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        // The group is already gone.
      }
    };
    const stop = (reason: NonNullable<typeof stopReason>): void => {
      if (stopReason) return;
      stopReason = reason;
      killGroup("SIGTERM");
      killTimer = setTimeout(() => killGroup("SIGKILL"), inv.killGraceMs ?? 5000);
      killTimer.unref();
    };

    const timeout = setTimeout(() => stop("timeout"), inv.timeoutMs);
    const onAbort = (): void => stop("cancelled");
    if (inv.signal?.aborted) onAbort();
    else inv.signal?.addEventListener("abort", onAbort, { once: true });

    child.on("error", (err) => {
      spawnError = err;
    });
    child.stdin!.on("error", () => {
      // A step that exits without reading its input is fine (EPIPE); its exit code decides.
    });
    child.stdin!.end(inv.input);

    child.stdout!.on("data", (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      if (stdoutBytes > inv.maxOutputBytes) {
        stop("too-large");
        return;
      }
      stdout.push(chunk);
    });
    child.stderr!.setEncoding("utf8");
    const emit = (line: string): void => {
      const trimmed = line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}…` : line;
      if (trimmed.trim() !== "") lastLine = trimmed;
      inv.onLine(trimmed);
    };
    child.stderr!.on("data", (chunk: string) => {
      const lines = (partial + chunk).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) emit(line.replace(/\r$/, ""));
      if (partial.length > MAX_LINE) {
        emit(partial);
        partial = "";
      }
    });

    // 'close' waits for stdio to end; a grandchild that kept our pipes open must not hold the run,
    // so after 'exit' we give the pipes a moment and then stop listening.
    let exitCode: number | null = null;
    let exitSignal: NodeJS.Signals | null = null;
    let settled = false;
    const finish = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timeout);
      if (killTimer && !stopReason) clearTimeout(killTimer);
      inv.signal?.removeEventListener("abort", onAbort);
      child.stdout!.destroy();
      child.stderr!.destroy();
      if (partial) emit(partial);
      resolve(conclude());
    };
    child.on("exit", (code, signal) => {
      exitCode = code;
      exitSignal = signal;
      if (stopReason) killGroup("SIGKILL"); // leave nothing of a stopped step behind
      setTimeout(finish, 2000).unref();
    });
    child.on("close", finish);

    const conclude = (): StepAttemptResult => {
      const durationMs = elapsed();
      if (spawnError) {
        return failed(
          inv,
          "E_STEP_SPAWN",
          `cannot start ${inv.command}: ${spawnError.message}`,
          false,
          null,
          durationMs,
        );
      }
      if (stopReason === "cancelled") return { kind: "cancelled", durationMs };
      if (stopReason === "timeout") {
        return failed(
          inv,
          "E_STEP_TIMEOUT",
          `timed out after ${formatMs(inv.timeoutMs)}${lastLine ? ` (last output: ${lastLine})` : ""}`,
          true,
          exitCode,
          durationMs,
        );
      }
      if (stopReason === "too-large") {
        return failed(
          inv,
          "E_STEP_OUTPUT_TOO_LARGE",
          `wrote more than ${inv.maxOutputBytes} bytes to stdout; a step must print only the new clipboard (progress goes to stderr)`,
          false,
          exitCode,
          durationMs,
        );
      }
      if (exitCode !== 0) {
        const how = exitSignal ? `was killed by ${exitSignal}` : `exited with code ${exitCode}`;
        const message = lastLine || `${how} without a message on stderr`;
        return failed(
          inv,
          exitCode === EXIT_RETRYABLE ? "E_STEP_RETRYABLE" : "E_STEP_FAILED",
          message,
          exitCode === EXIT_RETRYABLE,
          exitCode,
          durationMs,
        );
      }
      const text = Buffer.concat(stdout).toString("utf8");
      // A step that hands its input back untouched changed nothing: no parse, no new snapshot.
      if (text.trim() === "" || text === inv.input)
        return { kind: "ok", output: undefined, clipboard: undefined, durationMs };
      try {
        const parsed = parseYamlMapping(text, `output of ${inv.step}`, { maxBytes: inv.maxOutputBytes });
        return { kind: "ok", output: text, clipboard: parsed.value, durationMs };
      } catch (err) {
        return failed(
          inv,
          "E_STEP_BAD_OUTPUT",
          `printed an invalid clipboard: ${(err as Error).message}`,
          false,
          0,
          durationMs,
        );
      }
    };
  });
}

function failed(
  inv: StepInvocation,
  code: string,
  message: string,
  retryable: boolean,
  exitCode: number | null,
  durationMs: number,
): StepAttemptResult {
  return {
    kind: "failed",
    error: { name: "StepError", code, message, retryable },
    retryable,
    exitCode,
    durationMs,
  };
}

function formatMs(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${ms} ms`;
}
