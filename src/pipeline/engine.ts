/**
 * The engine executes runs: one pipeline over one clipboard, steps one after another, each step
 * a forked process (step-runner.ts). It records every attempt, log line and clipboard in the store
 * as it goes, so a run interrupted anywhere can be resumed from the step that was in flight.
 *
 * A run belongs to the process executing it through a lease in the store that this engine renews;
 * the service (`jarvis start`) picks up queued runs and runs whose lease expired.
 */
import { EventEmitter } from "node:events";
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { parseYamlMapping } from "../clipboard/yaml.js";
import { stopLeftBehindStep } from "./orphans.js";
import { MAX_CLIPBOARD_BYTES, executeStep } from "./step-execution.js";
import type { Current, StepDeps } from "./step-execution.js";
import type { JarvisConfig } from "../config.js";
import type { WireError } from "../protocol.js";
import type { RunRecord, RunStore } from "../store/run-store.js";
import type { Pipeline } from "./pipeline.js";
import type { StepResolver } from "./step-catalog.js";
import type { RunEvent } from "./run-events.js";

/** What the engine needs. */
export interface EngineOptions {
  config: JarvisConfig;
  store: RunStore;
  resolver: StepResolver;
  /** Identifies this process in leases; unique per process. */
  owner?: string;
}

/** Executes runs and follows their leases. */
export class Engine {
  readonly owner: string;
  private readonly events = new EventEmitter();
  private readonly active = new Map<string, { controller: AbortController; done: Promise<RunRecord> }>();
  private renewTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private polling = false;
  private closed = false;

  /** What executing one step needs: the engine's parts and its event stream. */
  private readonly stepDeps: StepDeps;

  constructor(private readonly options: EngineOptions) {
    this.owner = options.owner ?? `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
    this.events.setMaxListeners(0);
    this.stepDeps = { ...options, emit: (event) => this.emit(event) };
  }

  /** Follow every run's progress; returns the unsubscribe function. */
  subscribe = (listener: (event: RunEvent) => void): (() => void) => {
    this.events.on("event", listener);
    return () => this.events.off("event", listener);
  };

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
        await this.pickUp();
      } finally {
        this.polling = false;
      }
    };
    void poll();
    this.pollTimer = setInterval(() => void poll(), pollMs);
  }

  /** Look for claimable runs now (called after a local `start` so it begins at once). */
  async pickUp(): Promise<void> {
    const runs = await this.options.store.claimableRuns(Date.now());
    for (const run of runs) {
      if (this.active.has(run.id) || this.closed) continue;
      if (run.after.length > 0 && (await this.dependencies(run)) !== "ready") continue;
      if (await this.options.store.claimRun(run.id, this.owner, this.options.config.leaseMs)) {
        void this.execute(run.id).catch(() => undefined);
      }
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
      if (dep && (dep.state === "queued" || dep.state === "running")) return "waiting";
      const why = dep ? `${dep.host}'s run ${dep.id} ${dep.state}` : `run ${id} is gone`;
      await store.updateRun(run.id, {
        state: "cancelled",
        finishedAt: Date.now(),
        leaseOwner: null,
        leaseExpiresAt: null,
        error: {
          name: "RunError",
          code: "E_RUN_DEPENDENCY",
          message: `not started: ${run.host} comes after ${why}; retry it once that is fixed`,
        },
      });
      this.emit({ type: "run-finished", run: await mustGet(store, run.id) });
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
      for (const entry of this.active.values()) entry.controller.abort("shutdown");
    }
    await Promise.allSettled([...this.active.values()].map((e) => e.done));
    if (this.renewTimer) clearInterval(this.renewTimer);
  }

  private emit(event: RunEvent): void {
    this.events.emit("event", event);
  }

  private async tick(): Promise<void> {
    const { store, config } = this.options;
    try {
      await store.renewLeases(this.owner, config.leaseMs);
      if (this.active.size === 0) return;
      const running = await store.listRuns({ states: ["running"], limit: 10_000 });
      for (const run of running) {
        if (run.cancelRequested && run.leaseOwner === this.owner) this.cancelLocal(run.id);
      }
    } catch {
      // A busy or failing store is retried on the next tick; leases are long enough to ride it out.
    }
  }

  private async executeRun(runId: string, signal: AbortSignal): Promise<RunRecord> {
    const { store } = this.options;
    let run = await mustGet(store, runId);
    const pipeline = JSON.parse(run.pipelineJson) as Pipeline;
    // A run that has not begun a step starts now (a cluster member may have waited for others).
    await store.updateRun(runId, {
      state: "running",
      startedAt: run.stepIndex < 0 ? Date.now() : (run.startedAt ?? Date.now()),
    });
    run = await mustGet(store, runId);
    this.emit({ type: "run-started", run });

    const steps = await store.listSteps(runId);
    const total = pipeline.steps.length;
    let current: Current | undefined;
    let failure: { index: number; error: WireError } | undefined;
    let cancelled = false;

    // A step whose jarvis died may still be running: stop it before it runs again here.
    for (const step of steps) {
      if (step.state === "running" && step.pid !== null && (await stopLeftBehindStep(step.pid, runId))) {
        await store.appendLog({
          runId,
          stepIndex: step.index,
          attempt: step.attempts,
          at: Date.now(),
          stream: "jarvis",
          line: `stopped the step left running by the process that died (pid ${step.pid})`,
        });
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
      current ??= await this.loadInput(runId, index);
      const outcome = await executeStep(
        this.stepDeps,
        run,
        pipeline,
        step,
        { index, total, name: step.name },
        current,
        record?.attempts ?? 0,
        signal,
      );
      if (outcome.kind === "ok") {
        current = outcome.next;
        continue;
      }
      if (outcome.kind === "cancelled") cancelled = true;
      else failure = { index, error: outcome.error };
      break;
    }

    if (signal.aborted && signal.reason === "shutdown") {
      // Leave the run as it is, lease lapsed at once: the next process runs the interrupted step
      // again on its recorded input.
      await store.updateRun(runId, { leaseExpiresAt: 0 });
      return mustGet(store, runId);
    }
    if (cancelled || failure) {
      current ??= await this.loadInput(runId, total);
      await this.runOnFailure(run, pipeline, current);
    }
    const state = cancelled ? "cancelled" : failure ? "failed" : "succeeded";
    const error: WireError | null = cancelled
      ? { name: "RunError", code: "E_RUN_CANCELLED", message: "cancelled by an operator" }
      : failure
        ? { ...failure.error, message: `${pipeline.steps[failure.index]!.name}: ${failure.error.message}` }
        : null;
    await store.updateRun(runId, {
      state,
      error,
      finishedAt: Date.now(),
      leaseOwner: null,
      leaseExpiresAt: null,
      cancelRequested: false,
    });
    run = await mustGet(store, runId);
    this.emit({ type: "run-finished", run });
    return run;
  }

  private async loadInput(runId: string, index: number): Promise<Current> {
    const yaml = await this.options.store.getSnapshot(runId, index, "input");
    if (yaml === undefined) throw new Error(`run ${runId} has no clipboard before step ${index + 1}`);
    return {
      yaml,
      value: parseYamlMapping(yaml, `clipboard of run ${runId}`, { maxBytes: MAX_CLIPBOARD_BYTES }).value,
    };
  }

  private async runOnFailure(run: RunRecord, pipeline: Pipeline, start: Current): Promise<void> {
    let current = start;
    const total = pipeline.steps.length;
    for (const [i, step] of pipeline.onFailure.entries()) {
      const position = { index: total + i, total, name: `on_failure ${step.name}` };
      // on_failure steps run even after a cancel: a fresh signal, bounded by their own timeouts.
      const outcome = await executeStep(
        this.stepDeps,
        run,
        pipeline,
        step,
        position,
        current,
        0,
        new AbortController().signal,
      );
      if (outcome.kind === "ok") current = outcome.next;
    }
  }
}

async function mustGet(store: RunStore, id: string): Promise<RunRecord> {
  const run = await store.getRun(id);
  if (!run) throw new Error(`run ${id} is not in the store`);
  return run;
}
