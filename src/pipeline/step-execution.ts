/**
 * One step of a run, with its retries: the `if`, each attempt through a StepExecutor, backoff
 * between retryable failures, and the records every attempt leaves in the store (state, attempts,
 * log lines, the new clipboard, feed events). Every write is fenced by the run's lease: when
 * another process has taken the run over, the write is refused and this execution stops
 * (RunError E_RUN_LEASE_LOST).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { parseYamlMapping } from "../clipboard/yaml.js";
import type { Redactor } from "../clipboard/redact.js";
import { compileCondition } from "./condition.js";
import { concreteStepName } from "./executors/step-name.js";
import { MAX_CLIPBOARD_BYTES } from "./executors/local-fork.js";
import { RunError, errorCode, errorMessage } from "../errors.js";
import type { StepOutcome, StepPosition, StepReport, WireError } from "../protocol.js";
import type { Lease, RunRecord, RunStore, StepWrite } from "../store/run-store.js";
import type { Pipeline, PipelineStep } from "./pipeline.js";
import type { StepExecutor } from "./executors/step-executor.js";

/** The clipboard of a run in flight: text for the next step, parsed only when something asks. */
export interface Current {
  yaml: string;
  value(): Record<string, unknown>;
}

/** A Current over `yaml`, with its parsed form when the caller already has it. */
export function currentOf(yaml: string, runId: string, parsed?: Record<string, unknown>): Current {
  let value = parsed;
  return {
    yaml,
    value: () =>
      (value ??= parseYamlMapping(yaml, `clipboard of run ${runId}`, {
        maxBytes: MAX_CLIPBOARD_BYTES,
      }).value),
  };
}

/** What executing a step of one run needs. */
export interface StepContext {
  store: RunStore;
  lease: Lease;
  run: RunRecord;
  pipeline: Pipeline;
  executor: StepExecutor;
  /** The run's redactor: jarvis.yml's secrets and the run's source; it learns each step's input. */
  redactor: Redactor;
}

/** How a step ended: the clipboard for the next step, or why the run stops here. */
export type StepResult =
  { kind: "ok"; next: Current } | { kind: "failed"; error: WireError } | { kind: "cancelled" };

/** Why the engine aborts a run's signal; anything else is an operator's cancel. */
export type StopReason = "shutdown" | "lease-lost";

/** The error that stops an execution whose lease another process holds now. */
export function leaseLost(runId: string): RunError {
  return new RunError(
    "E_RUN_LEASE_LOST",
    `run ${runId} was taken over by another process (its lease lapsed); this process stops executing it`,
  );
}

/** The reports of one attempt: anything an executor sends for another attempt arrived late. */
export async function* reportsOf(
  reports: AsyncIterable<StepReport>,
  attempt: number,
): AsyncGenerator<StepReport> {
  for await (const report of reports) if (report.attempt === attempt) yield report;
}

/**
 * One step with its retries. `row` is its place in the run's step list; `position` how people
 * see it. Returns the next clipboard, or why it stopped.
 */
export async function executeStep(
  ctx: StepContext,
  step: PipelineStep,
  position: StepPosition,
  row: number,
  input: Current,
  previousAttempts: number,
  signal: AbortSignal,
): Promise<StepResult> {
  const { store, lease, run } = ctx;
  // on_failure steps never move where the run stands: status keeps naming the step that failed.
  const moveRun = position.phase === "main";
  const write = async (w: StepWrite): Promise<void> => {
    if (!(await store.writeStep(lease, row, w))) throw leaseLost(run.id);
  };
  const log = async (
    line: string,
    attempt: number,
    stream: "stderr" | "jarvis" = "jarvis",
  ): Promise<void> => {
    if (!(await store.appendLog(lease, { step: position, attempt, stream, line }))) throw leaseLost(run.id);
  };
  const fail = async (attempt: number, error: WireError, durationMs?: number): Promise<StepResult> => {
    await log(`failed (${error.code}): ${error.message}`, attempt);
    await write({
      patch: {
        state: "failed",
        finishedAt: Date.now(),
        error,
        pid: null,
        ...(durationMs !== undefined ? { durationMs } : {}),
      },
      moveRun,
      event: { type: "step-finished", step: position, state: "failed", error },
    });
    return { kind: "failed", error };
  };
  const refused = (err: unknown): WireError => ({
    name: "PipelineError",
    code: errorCode(err),
    message: errorMessage(err),
  });

  let stepName: string;
  try {
    if (step.if !== undefined) {
      const wanted = compileCondition(step.if, `${ctx.pipeline.file}:${step.line}`)(input.value());
      if (!wanted) {
        await log(`skipped: if ${step.if} is false`, 0);
        await write({
          patch: { state: "skipped", finishedAt: Date.now() },
          moveRun,
          event: { type: "step-finished", step: position, state: "skipped", error: null },
        });
        return { kind: "ok", next: input };
      }
    }
    stepName = concreteStepName(step.uses, () => input.value());
  } catch (err) {
    return fail(previousAttempts, refused(err));
  }
  // Secrets of the design and of earlier steps (a rotated password) are hidden as values too,
  // in what this step logs and in its error: the executor knows only the module's own secrets.
  const redactor = ctx.redactor.learn([input.value(), step.with]);

  for (let attempt = previousAttempts + 1; ; attempt++) {
    // Recorded with the attempt's first report, so the pid of a forked step lands in the same
    // write (one commit less per step on the hot path).
    const start = (pid: number | null): Promise<void> =>
      write({
        patch: {
          state: "running",
          attempts: attempt,
          startedAt: Date.now(),
          finishedAt: null,
          error: null,
          pid,
        },
        moveRun,
        event: { type: "step-started", step: position, attempt },
      });
    const outcome = await runAttempt(ctx, step, stepName, input, attempt, signal, start, (line, a, stream) =>
      log(redactor.text(line), a, stream),
    );
    if (outcome.kind === "cancelled") {
      if (signal.reason === "lease-lost") throw leaseLost(run.id);
      // On shutdown the step stays "running": the next process runs it again on the same input.
      if (signal.reason === "shutdown") return { kind: "cancelled" };
      await log("cancelled by an operator", attempt);
      const error = { name: "RunError", code: "E_RUN_CANCELLED", message: "cancelled" };
      await write({
        patch: { state: "failed", finishedAt: Date.now(), error, pid: null },
        event: { type: "step-finished", step: position, state: "failed", error },
      });
      return { kind: "cancelled" };
    }
    if (outcome.kind === "ok") {
      await write({
        patch: { state: "ok", finishedAt: Date.now(), durationMs: outcome.durationMs, pid: null },
        ...(outcome.clipboardYaml !== undefined ? { output: outcome.clipboardYaml } : {}),
        event: { type: "step-finished", step: position, state: "ok", error: null },
      });
      return {
        kind: "ok",
        next:
          outcome.clipboardYaml !== undefined
            ? currentOf(outcome.clipboardYaml, run.id, outcome.clipboard)
            : input,
      };
    }
    const error = { ...outcome.error, message: redactor.text(outcome.error.message) };
    const retriesLeft = previousAttempts + 1 + step.retries - attempt;
    if (!error.retryable || retriesLeft <= 0 || signal.aborted)
      return fail(attempt, error, outcome.durationMs);
    const waitMs = step.backoffMs * 2 ** (attempt - previousAttempts - 1);
    await log(
      `attempt ${attempt} failed (${error.message}); retrying in ${waitMs} ms, ${retriesLeft} left`,
      attempt,
    );
    await write({
      patch: { error, durationMs: outcome.durationMs, pid: null },
      event: { type: "step-retry", step: position, attempt, waitMs, error: error.message },
    });
    try {
      await sleep(waitMs, undefined, { signal });
    } catch (err) {
      if (!signal.aborted) throw err;
      if (signal.reason === "lease-lost") throw leaseLost(run.id);
      if (signal.reason !== "shutdown")
        await write({ patch: { state: "failed", finishedAt: Date.now(), error } });
      return { kind: "cancelled" };
    }
  }
}

/** Log lines an attempt may have on their way to the store before it waits for them. */
const MAX_LINES_IN_FLIGHT = 1000;

/** One attempt through the executor: its pid and log lines recorded as they come, then its outcome. */
async function runAttempt(
  ctx: StepContext,
  step: PipelineStep,
  stepName: string,
  input: Current,
  attempt: number,
  signal: AbortSignal,
  start: (pid: number | null) => Promise<void>,
  log: (line: string, attempt: number, stream: "stderr" | "jarvis") => Promise<void>,
): Promise<StepOutcome> {
  let started = false;
  const request = {
    runId: ctx.run.id,
    step: stepName,
    params: step.with,
    clipboardYaml: input.yaml,
    attempt,
    timeoutMs: step.timeoutMs,
    forced: ctx.run.forced,
    plan: ctx.run.plan,
    ...(step.runsOn ? { runsOn: step.runsOn } : {}),
  };
  // Lines are handed to the store without waiting for each (a store may write those that come
  // together in one statement), and all of them are kept before the attempt's outcome is.
  const lines = new LinesInFlight();
  for await (const report of reportsOf(ctx.executor.run(request, signal), attempt)) {
    if (!started) {
      started = true;
      await start(report.type === "spawned" ? report.pid : null);
      if (report.type === "spawned") continue;
    }
    if (report.type === "log") await lines.add(log(report.line, attempt, "stderr"));
    else if (report.type === "outcome") {
      await lines.kept();
      return report.outcome;
    }
  }
  await lines.kept();
  if (!started) await start(null);
  return {
    kind: "failed",
    error: {
      name: "StepError",
      code: "E_STEP_NO_OUTCOME",
      message: `the ${stepName} attempt ended without an outcome from its executor; it is tried again`,
      retryable: true,
    },
    durationMs: 0,
  };
}

/** Lines a step's attempt is writing: at most MAX_LINES_IN_FLIGHT at once, so a flood waits. */
class LinesInFlight {
  private inFlight: Promise<void>[] = [];
  /** The first line that could not be kept (the lease was lost): thrown at the next wait. */
  private failure: { error: unknown } | undefined;

  async add(line: Promise<void>): Promise<void> {
    this.inFlight.push(
      line.catch((error: unknown) => {
        this.failure ??= { error };
      }),
    );
    if (this.inFlight.length >= MAX_LINES_IN_FLIGHT) await this.kept();
  }

  /** Every line so far is kept; else what stopped one. */
  async kept(): Promise<void> {
    await Promise.all(this.inFlight.splice(0));
    if (this.failure) throw this.failure.error;
  }
}
