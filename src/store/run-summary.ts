/**
 * How a run's records map to what the feed carries, for every store implementation: a run's
 * summary, and between a step's position and its row in the run's step list.
 */
import type { RunSummary, StepPosition } from "../protocol.js";
import type { RunRecord, StepRecord } from "./run-store.js";

/** The feed's view of a run; `mainStepName` is the name of the step at its stepIndex. */
export function summarize(run: RunRecord, mainStepName: string | undefined): RunSummary {
  // Runs recorded before on_failure steps stopped moving stepIndex may point past the main list.
  const index = Math.min(run.stepIndex, run.totalSteps - 1);
  return {
    id: run.id,
    host: run.host,
    pipeline: run.pipeline,
    state: run.state,
    totalSteps: run.totalSteps,
    step: index >= 0 ? { phase: "main", index, total: run.totalSteps, name: mainStepName ?? "" } : null,
    requestedBy: run.requestedBy,
    origin: run.origin,
    group: run.group,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    error: run.error,
  };
}

/** Row of a step in its run's list: main steps first, then the on_failure steps. */
export function stepRow(position: StepPosition, mainTotal: number): number {
  return position.phase === "main" ? position.index : mainTotal + position.index;
}

/** Position of a stored step, for display. */
export function positionOf(step: StepRecord, steps: StepRecord[]): StepPosition {
  const phase = step.onFailure ? "on_failure" : "main";
  const same = steps.filter((s) => s.onFailure === step.onFailure);
  return { phase, index: same.indexOf(step), total: same.length, name: step.name };
}
