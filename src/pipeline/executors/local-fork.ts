/**
 * The local executor: each attempt is a child process on this machine (step-runner.ts). The
 * step's program, its module defaults and its secrets are resolved here, where it runs.
 */
import { createRedactor } from "../../clipboard/redact.js";
import { errorCode, errorMessage } from "../../errors.js";
import { runStepAttempt } from "../step-runner.js";
import { prepareStep } from "../step-environment.js";
import { unknownStepOutcome } from "./plan-unknown.js";
import type { JarvisConfig } from "../../config.js";
import type { StepOutcome, StepReport, StepRequest } from "../../protocol.js";
import type { StepResolver } from "../step-catalog.js";
import type { StepExecutor } from "./step-executor.js";

/** Largest clipboard a step may hand back. */
export const MAX_CLIPBOARD_BYTES = 64 * 1024 * 1024;

/** The local fork, which can also start a step before its input is known (a worker's claim). */
export interface LocalForkExecutor extends StepExecutor {
  /**
   * Run an attempt whose child starts at once but gets its input only when `input` settles;
   * `undefined` there stops it unstarted (outcome `cancelled`). `request.clipboardYaml` is unused.
   */
  runGated(
    request: StepRequest,
    input: Promise<string | undefined>,
    signal: AbortSignal,
  ): AsyncGenerator<StepReport>;
}

/** A StepExecutor that forks each attempt here. */
export function createLocalForkExecutor(config: JarvisConfig, resolver: StepResolver): LocalForkExecutor {
  return {
    run: (request, signal) => runAttempt(request, request.clipboardYaml, signal),
    runGated: runAttempt,
  };

  async function* runAttempt(
    request: StepRequest,
    input: string | Promise<string | undefined>,
    signal: AbortSignal,
  ): AsyncGenerator<StepReport> {
    const { attempt } = request;
    let prepared;
    try {
      // The provider module was already chosen from the clipboard: no clipboard needed here.
      prepared = prepareStep(
        config,
        resolver,
        { uses: request.step, with: request.params },
        {},
        request.runId,
        request.forced,
        request.plan === true,
      );
    } catch (err) {
      const error = {
        name: "PipelineError",
        code: errorCode(err),
        message: errorMessage(err),
        retryable: false,
      };
      yield { type: "outcome", attempt, outcome: { kind: "failed", error, durationMs: 0 } };
      return;
    }
    if (request.plan === true && prepared.command.kind === "external") {
      const clipboardYaml = await input;
      const outcome: StepOutcome =
        clipboardYaml === undefined
          ? { kind: "cancelled", durationMs: 0 }
          : unknownStepOutcome({ ...request, clipboardYaml }, prepared.command, MAX_CLIPBOARD_BYTES);
      yield { type: "outcome", attempt, outcome };
      return;
    }
    const redactor = createRedactor({ keys: config.redact.keys, secrets: prepared.secrets });
    // The child's callbacks push here; the generator hands them on in order.
    const queue: StepReport[] = [];
    let wake: (() => void) | undefined;
    const push = (report: StepReport): void => {
      queue.push(report);
      wake?.();
    };
    const { command, env } = prepared;
    // Stopping early (the engine stopped reading) kills the step too.
    const stop = new AbortController();
    const forward = (): void => stop.abort(signal.reason);
    if (signal.aborted) forward();
    else signal.addEventListener("abort", forward, { once: true });
    const finished = runStepAttempt({
      step: request.step,
      command: command.command,
      args: command.args,
      env,
      cwd: config.baseDir,
      input,
      timeoutMs: request.timeoutMs,
      maxOutputBytes: MAX_CLIPBOARD_BYTES,
      signal: stop.signal,
      onSpawn: (pid) => push({ type: "spawned", attempt, pid }),
      onLine: (line) => push({ type: "log", attempt, line: redactor.text(line) }),
    }).then((result): StepOutcome => {
      if (result.kind === "ok") {
        return result.output === undefined
          ? { kind: "ok", durationMs: result.durationMs }
          : {
              kind: "ok",
              clipboardYaml: result.output,
              ...(result.clipboard ? { clipboard: result.clipboard } : {}),
              durationMs: result.durationMs,
            };
      }
      if (result.kind === "cancelled") return result;
      const error = {
        ...result.error,
        message: redactor.text(result.error.message),
        retryable: result.retryable,
      };
      return { kind: "failed", error, durationMs: result.durationMs };
    });
    let outcome: StepOutcome | undefined;
    void finished.then((o) => {
      outcome = o;
      wake?.();
    });
    try {
      for (;;) {
        const next = queue.shift();
        if (next) {
          yield next;
          continue;
        }
        if (outcome) break;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
      yield { type: "outcome", attempt, outcome };
    } finally {
      signal.removeEventListener("abort", forward);
      if (!outcome) {
        stop.abort("abandoned");
        await finished;
      }
    }
  }
}
