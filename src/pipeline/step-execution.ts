/**
 * One step of a run, with its retries: the `if`, the environment, each attempt as a forked process
 * (step-runner.ts), backoff between retryable failures, and the records every attempt leaves in
 * the store (state, attempts, log lines, the new clipboard).
 */
import { redactorForConfig } from "../clipboard/config-redactor.js";
import { compileCondition } from "./condition.js";
import { runStepAttempt } from "./step-runner.js";
import { prepareStep } from "./step-environment.js";
import { errorCode, errorMessage } from "../errors.js";
import type { JarvisConfig } from "../config.js";
import type { WireError } from "../protocol.js";
import type { RunRecord, RunStore } from "../store/run-store.js";
import type { Pipeline, PipelineStep } from "./pipeline.js";
import type { StepResolver } from "./step-catalog.js";
import type { RunEvent, StepPosition } from "./run-events.js";

/** The current clipboard of a run in flight: text for the next step, parsed for `if` and providers. */
export interface Current {
  yaml: string;
  value: Record<string, unknown>;
}

/** Largest clipboard a step may hand back. */
export const MAX_CLIPBOARD_BYTES = 64 * 1024 * 1024;

/** What executing a step needs. */
export interface StepDeps {
  config: JarvisConfig;
  store: RunStore;
  resolver: StepResolver;
  emit(event: RunEvent): void;
}

/** How a step ended: the clipboard for the next step, or why the run stops here. */
export type StepResult =
  { kind: "ok"; next: Current } | { kind: "failed"; error: WireError } | { kind: "cancelled" };

/** One step with its retries. Returns the next clipboard, or why it stopped. */
export async function executeStep(
  deps: StepDeps,
  run: RunRecord,
  pipeline: Pipeline,
  step: PipelineStep,
  position: StepPosition,
  input: Current,
  previousAttempts: number,
  signal: AbortSignal,
): Promise<StepResult> {
  const { store, config, resolver } = deps;
  const index = position.index;
  const log = (line: string, attempt: number, stream: "stderr" | "jarvis" = "jarvis"): Promise<void> =>
    store.appendLog({ runId: run.id, stepIndex: index, attempt, at: Date.now(), stream, line });

  await store.updateRun(run.id, { stepIndex: index });
  if (step.if !== undefined) {
    let wanted: boolean;
    try {
      wanted = compileCondition(step.if, `${pipeline.file}:${step.line}`)(input.value);
    } catch (err) {
      return failStep(deps, run, position, 0, {
        name: "PipelineError",
        code: errorCode(err),
        message: errorMessage(err),
      });
    }
    if (!wanted) {
      await store.updateStep(run.id, index, { state: "skipped", finishedAt: Date.now() });
      await log(`skipped: if ${step.if} is false`, 0);
      deps.emit({ type: "step-finished", run, step: position, state: "skipped" });
      return { kind: "ok", next: input };
    }
  }

  let prepared;
  try {
    prepared = prepareStep(config, resolver, step, input.value, run.id, run.forced);
  } catch (err) {
    return failStep(deps, run, position, previousAttempts, {
      name: "PipelineError",
      code: errorCode(err),
      message: errorMessage(err),
    });
  }
  const { command, env } = prepared;
  // Secrets of the design and of earlier steps (a rotated password) are hidden as values too.
  const redactor = redactorForConfig(config).learnText(run.source).learn([input.value, step.with]);

  for (let attempt = previousAttempts + 1; ; attempt++) {
    await store.updateStep(run.id, index, {
      state: "running",
      attempts: attempt,
      startedAt: Date.now(),
      finishedAt: null,
      error: null,
    });
    deps.emit({ type: "step-started", run, step: position, attempt });
    const pendingLogs: Promise<void>[] = [];
    const result = await runStepAttempt({
      step: `${command.module}:${command.task}`,
      command: command.command,
      args: command.args,
      env,
      cwd: config.baseDir,
      input: input.yaml,
      timeoutMs: step.timeoutMs,
      maxOutputBytes: MAX_CLIPBOARD_BYTES,
      signal,
      onSpawn: (pid) => pendingLogs.push(store.updateStep(run.id, index, { pid })),
      onLine: (raw) => {
        const line = redactor.text(raw);
        pendingLogs.push(log(line, attempt, "stderr"));
        deps.emit({ type: "step-log", run, step: position, line });
      },
    });
    await Promise.all(pendingLogs);
    if (result.kind === "cancelled" && signal.reason === "shutdown") return { kind: "cancelled" };
    if (result.kind === "ok") {
      if (result.output !== undefined) await store.saveSnapshot(run.id, index, "output", result.output);
      await store.updateStep(run.id, index, {
        state: "ok",
        finishedAt: Date.now(),
        durationMs: result.durationMs,
        pid: null,
      });
      deps.emit({ type: "step-finished", run, step: position, state: "ok" });
      const next =
        result.output !== undefined && result.clipboard
          ? { yaml: result.output, value: result.clipboard }
          : input;
      return { kind: "ok", next };
    }
    // The step's process is gone: nothing left for a successor to stop.
    await store.updateStep(run.id, index, { pid: null });
    if (result.kind === "cancelled") {
      const shutdown = signal.reason === "shutdown";
      // On shutdown the step stays "running": the next process runs it again on the same input.
      if (!shutdown) {
        await store.updateStep(run.id, index, {
          state: "failed",
          finishedAt: Date.now(),
          error: { name: "RunError", code: "E_RUN_CANCELLED", message: "cancelled" },
        });
        await log("cancelled by an operator", attempt);
      }
      return { kind: "cancelled" };
    }
    const error = { ...result.error, message: redactor.text(result.error.message) };
    const retriesLeft = previousAttempts + 1 + step.retries - attempt;
    if (result.retryable && retriesLeft > 0 && !signal.aborted) {
      const waitMs = step.backoffMs * 2 ** (attempt - previousAttempts - 1);
      await log(
        `attempt ${attempt} failed (${error.message}); retrying in ${waitMs} ms, ${retriesLeft} left`,
        attempt,
      );
      deps.emit({ type: "step-retry", run, step: position, attempt, waitMs, error: error.message });
      await store.updateStep(run.id, index, { error, durationMs: result.durationMs });
      if (!(await sleep(waitMs, signal))) {
        await store.updateStep(run.id, index, { state: "failed", finishedAt: Date.now(), error });
        return { kind: "cancelled" };
      }
      continue;
    }
    return failStep(deps, run, position, attempt, error, result.durationMs);
  }
}

async function failStep(
  deps: StepDeps,
  run: RunRecord,
  position: StepPosition,
  attempt: number,
  error: WireError,
  durationMs?: number,
) {
  const { store } = deps;
  await store.updateStep(run.id, position.index, {
    state: "failed",
    finishedAt: Date.now(),
    error,
    ...(durationMs !== undefined ? { durationMs } : {}),
  });
  await store.appendLog({
    runId: run.id,
    stepIndex: position.index,
    attempt,
    at: Date.now(),
    stream: "jarvis",
    line: `failed: ${error.message}`,
  });
  deps.emit({ type: "step-finished", run, step: position, state: "failed" });
  return { kind: "failed" as const, error };
}

/** Wait, unless aborted first; true when the full time passed. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
