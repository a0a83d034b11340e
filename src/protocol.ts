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
  /** "1" in a plan run: the step reports what it would change under `plan:` and changes nothing. */
  plan: "JARVIS_PLAN",
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

/**
 * State of a run. `awaiting_approval` comes before `queued` for a run whose pipeline or ACL rule
 * requires approval: its host counts as busy, and no process may claim it until it is approved.
 */
export type RunState = "awaiting_approval" | "queued" | "running" | "succeeded" | "failed" | "cancelled";

/** Every run state, in the order a run passes through them (for listings and checks). */
export const RUN_STATES: readonly RunState[] = [
  "awaiting_approval",
  "queued",
  "running",
  "succeeded",
  "failed",
  "cancelled",
];

/** What a run awaiting approval needs, as the feed tells the rooms and people to ask. */
export interface ApprovalNotice {
  /** The role whose holders may approve; null: anyone the ACL lets approve on the host. */
  role: string | null;
  /** How many different people must approve. */
  count: number;
  /** When the run is cancelled unless approved (the store's clock, ms since the epoch). */
  expiresAt: number;
  /** Places told besides the run's origin ("irc:#leads", "xmpp:dm:bob@example.org"). */
  notify: string[];
}

/** State of a step within a run. */
export type StepState = "pending" | "running" | "ok" | "failed" | "skipped";

/** Which list of a pipeline a step belongs to: its own steps, or the on_failure steps after a failure. */
export type StepPhase = "main" | "on_failure";

/**
 * Where a step stands, as shown to people: "2/4 bad:b" for a main step, "on_failure 1/1
 * ok:cleanup" for an on_failure one. `index` is 0-based within its phase, `total` that phase's length.
 */
export interface StepPosition {
  phase: StepPhase;
  index: number;
  total: number;
  name: string;
}

/** A run as the event feed carries it: enough for a follower to say where it is and why it stopped. */
export interface RunSummary {
  id: string;
  host: string;
  pipeline: string;
  state: RunState;
  totalSteps: number;
  /** The main step the run is at, or stopped at (on_failure steps never move it); null before the first. */
  step: StepPosition | null;
  requestedBy: string;
  origin: string;
  group: string | null;
  startedAt: number | null;
  finishedAt: number | null;
  error: WireError | null;
  /** A plan run: its end is a plan on its clipboard, not changes to the world. */
  plan?: boolean;
  /** An apply run of a plan-then-apply: the plan run whose plan it applies. */
  planRun?: string;
}

/** What happened to a run, as appended to the store's event feed. */
export type RunEventBody =
  | { type: "run-queued"; run: RunSummary }
  | { type: "run-started"; run: RunSummary }
  | { type: "run-cancel-requested" }
  | { type: "run-awaiting-approval"; run: RunSummary; approval: ApprovalNotice }
  /** One decision on a run awaiting approval; `approvals` counts the different people so far. */
  | {
      type: "run-approval";
      verdict: "approve" | "deny";
      by: string;
      reason: string;
      approvals: number;
      needed: number;
    }
  | { type: "step-started"; step: StepPosition; attempt: number }
  | { type: "step-log"; step: StepPosition; attempt: number; stream: "stderr" | "jarvis"; line: string }
  | { type: "step-retry"; step: StepPosition; attempt: number; waitMs: number; error: string }
  | {
      type: "step-finished";
      step: StepPosition;
      state: "ok" | "failed" | "skipped";
      error: WireError | null;
    }
  | { type: "run-finished"; run: RunSummary };

/** One event of the feed: `seq` increases across the whole store, so a follower resumes after one. */
export type RunEvent = RunEventBody & {
  seq: number;
  at: number;
  runId: string;
  host: string;
  origin: string;
};

/**
 * One attempt of one step, as the engine asks a StepExecutor for it. Serialisable and free of
 * anything that only holds on the caller's machine: the executor resolves the step's program,
 * its module defaults and its secrets where it runs.
 */
export interface StepRequest {
  runId: string;
  /** `module:task`, the provider module already chosen from the clipboard. */
  step: string;
  /** The pipeline's `with` for this step (the executor merges its module defaults under it). */
  params: Record<string, unknown>;
  clipboardYaml: string;
  attempt: number;
  timeoutMs: number;
  forced: boolean;
  /** A plan run's step (JARVIS_PLAN=1); an executor never starts a step that cannot plan. */
  plan?: boolean;
  /** Worker tags the step needs (`runs_on`); a remote executor routes by them, the local fork has none. */
  runsOn?: string[];
}

/** How one attempt ended. `clipboardYaml` is the new clipboard, absent when the step left it unchanged. */
export type StepOutcome =
  | {
      kind: "ok";
      clipboardYaml?: string;
      /** The same clipboard parsed, when the executor has it at hand (local); saves the engine a parse. */
      clipboard?: Record<string, unknown>;
      durationMs: number;
    }
  | { kind: "failed"; error: WireError & { retryable: boolean }; durationMs: number }
  | { kind: "cancelled"; durationMs: number };

/** What an executor streams back for an attempt; each report names the attempt it belongs to. */
export type StepReport =
  | { type: "spawned"; attempt: number; pid: number }
  | { type: "log"; attempt: number; line: string }
  | { type: "outcome"; attempt: number; outcome: StepOutcome };
