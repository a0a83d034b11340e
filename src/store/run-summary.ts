/**
 * How a run's records map to what the feed carries, for every store implementation: a run's
 * summary, and between a step's position and its row in the run's step list.
 */
import type { RunSummary, StepPosition } from "../protocol.js";
import type { RunRecord } from "./run-store.js";

/** The feed's view of a run. */
export function summarize(run: RunRecord): RunSummary {
  const index = run.stepIndex;
  return {
    id: run.id,
    host: run.host,
    pipeline: run.pipeline,
    state: run.state,
    totalSteps: run.totalSteps,
    step: index >= 0 ? { phase: "main", index, total: run.totalSteps, name: run.stepName ?? "" } : null,
    requestedBy: run.requestedBy,
    origin: run.origin,
    group: run.group,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    error: run.error,
    ...(run.plan ? { plan: true } : {}),
    ...(run.planRun !== null ? { planRun: run.planRun } : {}),
  };
}

/** Row of a step in its run's list: main steps first, then the on_failure steps. */
export function stepRow(position: StepPosition, mainTotal: number): number {
  return position.phase === "main" ? position.index : mainTotal + position.index;
}
