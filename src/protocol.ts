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
  /**
   * A random id per attempt, inherited by everything the step starts: how jarvis finds the
   * processes that left the step's process group (setsid) when it has to stop the step.
   */
  attemptId: "JARVIS_ATTEMPT_ID",
  /** Set (to the fd's number) when STEP_RESULT_FD is open for the step's final record. */
  resultFd: "JARVIS_RESULT_FD",
} as const;

/**
 * The file descriptor on which a failing step may write its final record: one line of JSON,
 * `{"code": "E_...", "message": "...", "retryable": false}`; the last line written counts.
 */
export const STEP_RESULT_FD = 3;

/** What a step's final record must look like to be believed (README "Writing steps"). */
export interface StepFinalRecord {
  /** Stable code, matching STEP_CODE_PATTERN. */
  code: string;
  message: string;
  /** Must agree with the exit code (75 = retryable); where it does not, the exit code wins. */
  retryable?: boolean;
}

/** Codes that travel from a step: E_ then capitals, digits and underscores. */
export const STEP_CODE_PATTERN = /^E_[A-Z0-9_]+$/;

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
