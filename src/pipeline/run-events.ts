/** Events the engine emits while runs progress; chat adapters and the CLI follow them. */
import type { RunRecord } from "../store/run-store.js";

/** A step's position, as shown to people ("5/19 dns:update_host"). */
export interface StepPosition {
  index: number;
  total: number;
  name: string;
}

/** Something that happened to a run. */
export type RunEvent =
  | { type: "run-started"; run: RunRecord }
  | { type: "step-started"; run: RunRecord; step: StepPosition; attempt: number }
  | { type: "step-log"; run: RunRecord; step: StepPosition; line: string }
  | { type: "step-retry"; run: RunRecord; step: StepPosition; attempt: number; waitMs: number; error: string }
  | { type: "step-finished"; run: RunRecord; step: StepPosition; state: "ok" | "failed" | "skipped" }
  | { type: "run-finished"; run: RunRecord };

/** Subscribe to run events; returns the function that unsubscribes. */
export type RunEventSubscribe = (listener: (event: RunEvent) => void) => () => void;
