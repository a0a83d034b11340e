/**
 * The run store: runs, their steps and attempts, every clipboard snapshot, the run log and the
 * audit trail. SQLite implements it by default (sqlite-store.ts); the interface is async so a
 * shared PostgreSQL store can implement it when several machines share the work.
 */
import type { RunState, StepState, WireError } from "../protocol.js";

/** One run: one pipeline over one host's clipboard. */
export interface RunRecord {
  id: string;
  host: string;
  pipeline: string;
  /** The pipeline as it was when the run started (JSON), so a resumed run follows the same steps. */
  pipelineJson: string;
  state: RunState;
  /** Index (0-based) of the step being executed or last executed; -1 before the first. */
  stepIndex: number;
  totalSteps: number;
  /** Identity that started the run ("cli:root", "irc:alice"). */
  requestedBy: string;
  /** Where it was started and where progress goes ("cli", "irc:#ops"). */
  origin: string;
  /** The design source as given (`examples/loki.yml`, `cn=loki`). */
  source: string;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  error: WireError | null;
  /** Which process executes it, and until when that claim holds unless renewed. */
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
  /** Set when an operator asked to cancel; the executing process acts on it. */
  cancelRequested: boolean;
  /** The cluster this run belongs to (all runs started from one multi-host design), if any. */
  group: string | null;
  /** Runs that must succeed before this one starts (a cluster's `after`). */
  after: string[];
  /** An operator forced it: steps see JARVIS_FORCE=1 (production:check lets it through). */
  forced: boolean;
}

/** What is needed to create a run. */
export interface NewRun {
  host: string;
  pipeline: string;
  pipelineJson: string;
  totalSteps: number;
  requestedBy: string;
  origin: string;
  source: string;
  /** The design as loaded: stored as the input snapshot of step 0. */
  clipboardYaml: string;
  /** Start queued (for the service) or already claimed by this owner (foreground run). */
  leaseOwner?: string;
  leaseMs?: number;
  /** Cluster id and the runs this one waits for. */
  group?: string;
  after?: string[];
  forced?: boolean;
  /** Step names in order, stored as pending steps: the pipeline's steps, then its on_failure steps. */
  stepNames: string[];
}

/** One step of a run (the main list first, then on_failure steps). */
export interface StepRecord {
  runId: string;
  index: number;
  name: string;
  state: StepState;
  attempts: number;
  startedAt: number | null;
  finishedAt: number | null;
  durationMs: number | null;
  error: WireError | null;
  /** True for an on_failure step. */
  onFailure: boolean;
  /** Process (group) id of the attempt running now, to stop it if its jarvis died. */
  pid: number | null;
}

/** One line of a run's log. */
export interface LogLine {
  id: number;
  runId: string;
  stepIndex: number;
  attempt: number;
  at: number;
  stream: "stderr" | "jarvis";
  line: string;
}

/** One audited command. */
export interface AuditEntry {
  at: number;
  identity: string;
  network: string;
  room: string;
  command: string;
  decision: "allowed" | "denied" | "error";
  reason: string;
  runId: string | null;
}

/** Filters for listing runs. */
export interface RunQuery {
  host?: string;
  group?: string;
  states?: RunState[];
  limit?: number;
}

/** Persistence for runs. All methods are safe to call from many concurrent runs. */
export interface RunStore {
  /**
   * Create a run, refusing (RunError E_HOST_BUSY, naming the holding run) when the host already
   * has a queued or running run.
   */
  createRun(run: NewRun): Promise<RunRecord>;
  getRun(id: string): Promise<RunRecord | undefined>;
  /** Newest first. */
  listRuns(query: RunQuery): Promise<RunRecord[]>;
  updateRun(id: string, patch: Partial<Omit<RunRecord, "id">>): Promise<void>;

  /** Take the run's lease if it is free or expired (or already ours); true when taken. */
  claimRun(id: string, owner: string, leaseMs: number): Promise<boolean>;
  /** Extend every lease this owner holds; returns how many. */
  renewLeases(owner: string, leaseMs: number): Promise<number>;
  /** Runs waiting for a process: queued ones, and running ones whose lease has expired. */
  claimableRuns(now: number): Promise<RunRecord[]>;

  /** Replace a run's steps from index `from` on with new pending ones (retry adds on_failure anew). */
  resetSteps(runId: string, from: number, names: { name: string; onFailure: boolean }[]): Promise<void>;
  listSteps(runId: string): Promise<StepRecord[]>;
  updateStep(
    runId: string,
    index: number,
    patch: Partial<Omit<StepRecord, "runId" | "index">>,
  ): Promise<void>;

  /** Store the clipboard before (input) or after (output) step `index`. */
  saveSnapshot(runId: string, index: number, phase: "input" | "output", yaml: string): Promise<void>;
  getSnapshot(runId: string, index: number, phase: "input" | "output"): Promise<string | undefined>;

  appendLog(line: Omit<LogLine, "id">): Promise<void>;
  /** Log lines after id `afterId` (0 for all), oldest first. */
  readLog(runId: string, afterId?: number): Promise<LogLine[]>;

  appendAudit(entry: AuditEntry): Promise<void>;
  listAudit(limit: number): Promise<AuditEntry[]>;

  close(): Promise<void>;
}
