/**
 * The engine executes runs: one pipeline over one clipboard, steps one after another, each
 * attempt through a StepExecutor (executors/). It records every attempt, log line, clipboard and
 * feed event in the store as it goes, so a run interrupted anywhere can be resumed from the step
 * that was in flight, and followed from any process.
 *
 * A run belongs to the process executing it through a lease in the store; this engine renews the
 * leases of the runs it executes, and only those. Every write of a run's progress is fenced by
 * that lease. The service (`jarvis start`) picks up queued runs and runs whose lease expired.
 */
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { stopLeftBehindStep } from "./orphans.js";
import { currentOf, executeStep, leaseLost } from "./step-execution.js";
import { errorCode, errorMessage } from "../errors.js";
import { StoreError } from "../errors.js";
import type { Current, StepContext, StopReason } from "./step-execution.js";
import type { JarvisConfig } from "../config.js";
import { redactorForConfig } from "../clipboard/config-redactor.js";
import type { WireError } from "../protocol.js";
import type { Lease, RunEnding, RunRecord, RunStore } from "../store/run-store.js";
import type { Pipeline } from "./pipeline.js";
import type { Executors } from "./executors/registry.js";

/** What the engine needs. */
export interface EngineOptions {
  config: JarvisConfig;
  store: RunStore;
  executors: Executors;
  /** Identifies this process in leases; unique per process. */
  owner?: string;
  /** Where the engine reports its own trouble (a failing store, a run it lost); stderr by default. */
  log?: (line: string) => void;
}

/** Executes runs and keeps their leases. */
export class Engine {
  readonly owner: string;
  private readonly active = new Map<string, { controller: AbortController; done: Promise<RunRecord> }>();
  private readonly log: (line: string) => void;
  private renewTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private polling = false;
  private closed = false;

  constructor(private readonly options: EngineOptions) {
    this.owner = options.owner ?? `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
    this.log = options.log ?? ((line) => console.error(`jarvis: ${line}`));
  }

  /** Start renewing leases and checking for cancel requests (needed while any run executes). */
  startLeaseKeeper(): void {
    if (this.renewTimer) return;
    const every = Math.max(250, Math.min(1000, this.options.config.leaseMs / 3));
    this.renewTimer = setInterval(() => void this.tick(), every);
    this.renewTimer.unref();
  }

  /** Act as the service: execute queued runs and every run whose lease expired, as they appear. */
  startService(pollMs = 1000): void {
    this.startLeaseKeeper();
    const poll = async (): Promise<void> => {
      if (this.polling || this.closed) return;
      this.polling = true;
      try {
        // Approvals expire by the store's clock; each expiry is a compare-and-set, so two
        // services polling one store cancel a run once.
        await this.options.store.expireApprovals();
        await this.pickUp();
      } catch (err) {
        this.log(`looking for queued runs failed (${errorMessage(err)}); trying again in ${pollMs} ms`);
      } finally {
        this.polling = false;
      }
    };
    void poll();
    this.pollTimer = setInterval(() => void poll(), pollMs);
  }

  /** Look for claimable runs now (called after a local `start` so it begins at once). */
  async pickUp(): Promise<void> {
    const { store, config } = this.options;
    for (const run of await store.claimableRuns()) {
      if (this.active.has(run.id) || this.closed) continue;
      if (run.after.length > 0 && (await this.dependencies(run)) !== "ready") continue;
      if (await store.claim(run.id, this.owner, config.leaseMs)) this.executeInBackground(run.id);
    }
  }

  /** Execute a run this process holds the lease of; resolves with the final record. */
  execute(runId: string): Promise<RunRecord> {
    const existing = this.active.get(runId);
    if (existing) return existing.done;
    const controller = new AbortController();
    this.startLeaseKeeper();
    const done = this.executeRun(runId, controller.signal).finally(() => this.active.delete(runId));
    this.active.set(runId, { controller, done });
    return done;
  }

  /**
   * Whether the runs `run` waits for (a cluster's `after`) have succeeded. When one of them failed
   * or was cancelled, `run` can never start: it is cancelled, naming the run it waited for.
   */
  async dependencies(run: RunRecord): Promise<"ready" | "waiting" | "blocked"> {
    const { store } = this.options;
    for (const id of run.after) {
      const dep = await store.getRun(id);
      if (dep && dep.state === "succeeded") continue;
      if (dep && (dep.state === "awaiting_approval" || dep.state === "queued" || dep.state === "running"))
        return "waiting";
      const why = dep ? `${dep.host}'s run ${dep.id} ${dep.state}` : `run ${id} is gone`;
      const error: WireError = {
        name: "RunError",
        code: "E_RUN_DEPENDENCY",
        message: `not started: ${run.host} comes after ${why}; retry it once that is fixed`,
      };
      // Queued for any service, or already held by this (foreground) process.
      const { outcome } = await store.cancelIfQueued(run.id, error);
      if (outcome === "not-queued") {
        await store.finishIfOwner({ runId: run.id, owner: this.owner }, { state: "cancelled", error });
      }
      return "blocked";
    }
    return "ready";
  }

  /** Cancel a run executing in this process (others see the store's cancel flag). */
  cancelLocal(runId: string): boolean {
    const entry = this.active.get(runId);
    if (!entry) return false;
    entry.controller.abort();
    return true;
  }

  /** Stop taking work. With `abandon`, in-flight runs are left for the next process (their leases lapse). */
  async close(options: { abandon?: boolean } = {}): Promise<void> {
    this.closed = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (options.abandon) {
      for (const entry of this.active.values()) entry.controller.abort("shutdown" satisfies StopReason);
    }
    await Promise.allSettled([...this.active.values()].map((e) => e.done));
    if (this.renewTimer) clearInterval(this.renewTimer);
  }

  private executeInBackground(runId: string): void {
    this.execute(runId).catch((err: unknown) => {
      // executeRun ends every run it can; this is a store that failed even at that.
      this.log(`run ${runId}: could not be executed or recorded: ${errorMessage(err)}`);
    });
  }

  /** Renew the leases of the runs executing here; stop those that were lost or asked to cancel. */
  private async tick(): Promise<void> {
    const { store, config } = this.options;
    const executing = [...this.active.keys()];
    if (executing.length === 0) return;
    try {
      const held = await store.renew(this.owner, executing, config.leaseMs);
      const stillHeld = new Set(held.map((h) => h.runId));
      for (const id of executing) {
        if (!stillHeld.has(id) && this.active.has(id)) {
          this.log(`run ${id}: lost its lease to another process; stopping it here`);
          this.active.get(id)?.controller.abort("lease-lost" satisfies StopReason);
        }
      }
      for (const h of held) if (h.cancelRequested) this.cancelLocal(h.runId);
    } catch (err) {
      // Leases are several ticks long: a store that is busy for a moment is ridden out.
      this.log(`renewing leases failed (${errorMessage(err)}); trying again shortly`);
    }
  }

  private async executeRun(runId: string, signal: AbortSignal): Promise<RunRecord> {
    const lease: Lease = { runId, owner: this.owner };
    try {
      return await this.drive(lease, signal);
    } catch (err) {
      if (errorCode(err) === "E_RUN_LEASE_LOST") {
        this.log(errorMessage(err));
        return this.mustGet(runId);
      }
      return this.endInternal(lease, err);
    }
  }

  /** An exception in the engine itself ends the run failed with E_INTERNAL, its cause logged. */
  private async endInternal(lease: Lease, err: unknown): Promise<RunRecord> {
    const cause = errorMessage(err);
    this.log(`run ${lease.runId}: internal error, ending it failed: ${cause}`);
    if (err instanceof Error && err.stack) this.log(err.stack);
    const final = await this.options.store.finishIfOwner(lease, {
      state: "failed",
      error: {
        name: "RunError",
        code: "E_INTERNAL",
        message: `jarvis failed while executing the run (${cause}); see jarvis's log, fix the cause, then retry`,
      },
    });
    return final ?? this.mustGet(lease.runId);
  }

  private async drive(lease: Lease, signal: AbortSignal): Promise<RunRecord> {
    const { store } = this.options;
    const run = await store.markStarted(lease);
    if (!run) throw leaseLost(lease.runId);
    const pipeline = JSON.parse(run.pipelineJson) as Pipeline;
    const ctx: StepContext = {
      store,
      lease,
      run,
      pipeline,
      executor: this.options.executors.chosen,
      redactor: redactorForConfig(this.options.config).learnText(run.source),
    };
    const steps = await store.listSteps(run.id);
    const total = pipeline.steps.length;
    let current: Current | undefined;
    let failure: { index: number; error: WireError } | undefined;
    let cancelled = false;

    // A step whose jarvis died may still be running: stop it before it runs again here.
    for (const step of steps) {
      if (step.state === "running" && step.pid !== null && (await stopLeftBehindStep(step.pid, run.id))) {
        const line = `stopped the step left running by the process that died (pid ${step.pid})`;
        const position = { phase: "main" as const, index: step.index, total, name: step.name };
        if (
          !(await store.appendLog(lease, { step: position, attempt: step.attempts, stream: "jarvis", line }))
        )
          throw leaseLost(run.id);
      }
    }

    for (let index = 0; index < total; index++) {
      const record = steps[index];
      if (record && (record.state === "ok" || record.state === "skipped")) continue;
      const step = pipeline.steps[index]!;
      if (signal.aborted) {
        cancelled = true;
        break;
      }
      current ??= await this.loadInput(run.id, index);
      const position = { phase: "main" as const, index, total, name: step.name };
      const outcome = await executeStep(ctx, step, position, index, current, record?.attempts ?? 0, signal);
      if (outcome.kind === "ok") {
        current = outcome.next;
        continue;
      }
      if (outcome.kind === "cancelled") cancelled = true;
      else failure = { index, error: outcome.error };
      break;
    }

    if (signal.aborted && signal.reason === "lease-lost") throw leaseLost(run.id);
    if (signal.aborted && signal.reason === "shutdown") {
      // Leave the run as it is, lease lapsed at once: the next process runs the interrupted step
      // again on its recorded input.
      await store.release(lease);
      return this.mustGet(run.id);
    }
    if (cancelled || failure) {
      current ??= await this.loadInput(run.id, total);
      await this.runOnFailure(ctx, current);
    }
    const ending: RunEnding = cancelled
      ? {
          state: "cancelled",
          error: { name: "RunError", code: "E_RUN_CANCELLED", message: "cancelled by an operator" },
        }
      : failure
        ? {
            state: "failed",
            error: {
              ...failure.error,
              message: `${pipeline.steps[failure.index]!.name}: ${failure.error.message}`,
            },
          }
        : { state: "succeeded", error: null };
    // A plan-then-apply's plan hands its host straight to the apply run, which awaits approval.
    const final =
      ending.state === "succeeded" && run.applyApproval
        ? (await store.finishPlanForApproval(lease))?.plan
        : await store.finishIfOwner(lease, ending);
    if (!final) throw leaseLost(run.id);
    return final;
  }

  private async loadInput(runId: string, index: number): Promise<Current> {
    const yaml = await this.options.store.getSnapshot(runId, index, "input");
    if (yaml === undefined) {
      throw new StoreError("E_STORE_NO_SNAPSHOT", `run ${runId} has no clipboard before step ${index + 1}`);
    }
    return currentOf(yaml, runId);
  }

  private async runOnFailure(ctx: StepContext, start: Current): Promise<void> {
    let current = start;
    const { pipeline } = ctx;
    const total = pipeline.onFailure.length;
    for (const [index, step] of pipeline.onFailure.entries()) {
      const position = { phase: "on_failure" as const, index, total, name: step.name };
      // on_failure steps run even after a cancel: a fresh signal, bounded by their own timeouts.
      const outcome = await executeStep(
        ctx,
        step,
        position,
        pipeline.steps.length + index,
        current,
        0,
        new AbortController().signal,
      );
      if (outcome.kind === "ok") current = outcome.next;
    }
  }

  private async mustGet(id: string): Promise<RunRecord> {
    const run = await this.options.store.getRun(id);
    if (!run) throw new StoreError("E_STORE_LOST", `run ${id} is not in the store`);
    return run;
  }
}
