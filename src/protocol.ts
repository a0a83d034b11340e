/**
 * Everything that crosses a process boundary, as typed unions: the step contract (environment,
 * exit codes) and the shape errors take when they travel.
 */

/** Exit code of a step that failed for a reason that may pass (EX_TEMPFAIL from sysexits.h). */
export const EXIT_RETRYABLE = 75;

/** Environment variables a step receives (plus the secrets its configuration names). */
export const STEP_ENV = {
  runId: "JARVIS_RUN_ID",
  step: "JARVIS_STEP",
  params: "JARVIS_PARAMS",
  /** "1" when an operator forced the run (e.g. a redeploy of a host that serves production). */
  force: "JARVIS_FORCE",
} as const;

/** An error as it travels between processes (and into the store and the JSON output). */
export interface WireError {
  name: string;
  code: string;
  message: string;
  retryable?: boolean;
}

/** State of a run. */
export type RunState = "queued" | "running" | "succeeded" | "failed" | "cancelled";

/** State of a step within a run. */
export type StepState = "pending" | "running" | "ok" | "failed" | "skipped";
