/**
 * Runs one attempt of one step as a child process, keeping DESIGN.md's step protocol: its own
 * process group, a clean environment, the clipboard YAML on stdin, the new clipboard on stdout
 * (empty = unchanged), stderr streamed line by line, exit 75 = retryable, a final record on fd 3
 * (step-final-record.ts) naming the failure's code, a timeout kills the whole group and every
 * process that escaped it (SIGTERM, then SIGKILL), stdout over its limit or not one YAML mapping
 * fails the step.
 *
 * This sits on the hot path of every step, so it does only what the protocol needs: no shell, no
 * extra buffering copies, no parse of stdin.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { parseClipboardYaml } from "../clipboard/clipboard-yaml.js";
import { errorMessage } from "../errors.js";
import { EXIT_RETRYABLE, STEP_ENV, STEP_RESULT_FD } from "../protocol.js";
import type { WireError } from "../protocol.js";
import { stopAttemptProcesses } from "./attempt-processes.js";
import { collectFinalRecord } from "./step-final-record.js";

/** What to run and how. */
export interface StepInvocation {
  /** Full step name (`module:task`), for messages. */
  step: string;
  command: string;
  args: string[];
  /** The environment of the child (the caller builds the clean one; the runner adds the attempt's marker). */
  env: Record<string, string>;
  cwd: string;
  /**
   * The clipboard as YAML text, written to stdin. A promise of it lets the child start while the
   * caller still decides whether it may run (spawning costs milliseconds): `undefined` means it may
   * not, and the child is stopped before it is given its input; the attempt is then `cancelled`.
   */
  input: string | Promise<string | undefined>;
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
    const attemptId = randomUUID();
    try {
      child = spawn(inv.command, inv.args, {
        cwd: inv.cwd,
        env: { ...inv.env, [STEP_ENV.attemptId]: attemptId, [STEP_ENV.resultFd]: String(STEP_RESULT_FD) },
        detached: true,
        stdio: ["pipe", "pipe", "pipe", "pipe"],
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
    const finalRecord = collectFinalRecord(child.stdio[STEP_RESULT_FD]);
    // Processes that left the group (setsid): found by the attempt's marker once the step is stopped.
    let stragglers: Promise<void> | undefined;

    const killGroup = (signal: NodeJS.Signals): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        // The group is already gone.
      }
    };
    const graceMs = inv.killGraceMs ?? 5000;
    const stop = (reason: NonNullable<typeof stopReason>): void => {
      if (stopReason) return;
      stopReason = reason;
      killGroup("SIGTERM");
      stragglers = stopAttemptProcesses(attemptId, graceMs).catch((err: unknown) => {
        inv.onLine(`jarvis: could not look for processes the step left behind: ${errorMessage(err)}`);
      });
      killTimer = setTimeout(() => killGroup("SIGKILL"), graceMs);
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
    // The input as written, to tell an unchanged clipboard handed back.
    let input: string | undefined;
    const write = (text: string | undefined): void => {
      if (text === undefined) return stop("cancelled");
      input = text;
      child.stdin!.end(text);
    };
    if (typeof inv.input === "string") write(inv.input);
    else
      inv.input.then(write, (err: unknown) => {
        inv.onLine(`jarvis: the step's input could not be had (${errorMessage(err)}); not running it`);
        stop("cancelled");
      });

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
      for (const stream of child.stdio) stream?.destroy();
      if (partial) emit(partial);
      // A stopped attempt is over only when nothing of it runs any more.
      void Promise.all([stragglers, conclude()]).then(([, result]) => resolve(result));
    };
    child.on("exit", (code, signal) => {
      exitCode = code;
      exitSignal = signal;
      if (stopReason) killGroup("SIGKILL"); // leave nothing of a stopped step behind
      setTimeout(finish, 2000).unref();
    });
    child.on("close", finish);

    const conclude = async (): Promise<StepAttemptResult> => {
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
        // The exit code decides whether to retry, whatever the record says: a record must not
        // make a step that exits 1 retry forever, nor stop the retries of one that exits 75.
        const retryable = exitCode === EXIT_RETRYABLE;
        const outcome = finalRecord.outcome();
        if (outcome.kind === "record") {
          const { record } = outcome;
          if (record.retryable !== undefined && record.retryable !== retryable) {
            inv.onLine(
              `jarvis: the step's final record says retryable: ${record.retryable} but it exited ${exitCode}; the exit code wins`,
            );
          }
          return failed(inv, record.code, record.message, retryable, exitCode, durationMs);
        }
        if (outcome.kind === "invalid") {
          inv.onLine(`jarvis: ignored the step's final record on fd ${STEP_RESULT_FD}: ${outcome.problem}`);
        }
        const how = exitSignal ? `was killed by ${exitSignal}` : `exited with code ${exitCode}`;
        const message = lastLine || `${how} without a message on stderr`;
        return failed(
          inv,
          retryable ? "E_STEP_RETRYABLE" : "E_STEP_FAILED",
          message,
          retryable,
          exitCode,
          durationMs,
        );
      }
      const text = Buffer.concat(stdout).toString("utf8");
      // A step that hands its input back untouched changed nothing: no parse, no new snapshot.
      if (text.trim() === "" || text === input)
        return { kind: "ok", output: undefined, clipboard: undefined, durationMs };
      try {
        const clipboard = await parseClipboardYaml(text, `output of ${inv.step}`, {
          maxBytes: inv.maxOutputBytes,
        });
        return { kind: "ok", output: text, clipboard, durationMs: elapsed() };
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
