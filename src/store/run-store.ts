/**
 * The run store: runs, their steps and attempts, every clipboard snapshot, the run log and the
 * audit trail. SQLite implements it by default (sqlite-store.ts); the interface is async so a
 * shared PostgreSQL store can implement it when several machines share the work.
 */
import type { RunEvent, RunEventBody, RunState, StepPosition, StepState, WireError } from "../protocol.js";
import type { ScheduleStore } from "./schedule-store.js";
import type { NodeEventStore } from "./node-event-store.js";

/** One run: one pipeline over one host's clipboard. */
export interface RunRecord {
  id: string;
  host: string;
  pipeline: string;
  /** The pipeline as it was when the run started (JSON), so a resumed run follows the same steps. */
  pipelineJson: string;
  state: RunState;
  /**
   * Index (0-based) of the main step being executed or last executed; -1 before the first.
   * on_failure steps never move it, so a failed run points at the step that failed.
   */
  stepIndex: number;
  /** Name of the step at stepIndex, so a run alone can say where it is ("2/4 bad:b"). */
  stepName: string | null;
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
  /** The approvals it needs (kept after they came, to show who decided); null when none. */
  approval: StoredApproval | null;
  /**
   * A plan run: every step only reports what it would change (JARVIS_PLAN=1), under the
   * clipboard's `plan:`. Fixed when the run is created; a retry stays a plan run.
   */
  plan: boolean;
  /**
   * A plan-then-apply's plan run: the approval its apply run will wait for, once this plan has
   * succeeded (finishPlanForApproval). Null for every other run.
   */
  applyApproval: PendingApproval | null;
  /** An apply run: the plan run whose plan it applies once approved. Null for every other run. */
  planRun: string | null;
}

/** What a run must be approved by, as stored with it. */
export interface ApprovalRequirement {
  /**
   * The role whose holders' approvals count; null: anyone the ACL lets `approve` on the run's host
   * (the default of a plan-then-apply that no approval rule names).
   */
  role: string | null;
  /** Different people who must approve. */
  count: number;
  /** The person (acl.people name, else the identity) who asked for the run: she cannot approve it. */
  requesterPerson: string;
  /** Places told besides the run's origin. */
  notify: string[];
}

/** An approval requirement with its deadline on the store's clock. */
export interface StoredApproval extends ApprovalRequirement {
  expiresAt: number;
}

/** An approval requirement not yet asked for: its deadline is this long after it is. */
export type PendingApproval = ApprovalRequirement & { expiresInMs: number };

/** One person's decision on a run awaiting approval. */
export interface ApprovalDecision {
  runId: string;
  /** Counted once, whichever of the person's identities decided. */
  person: string;
  /** The verified identity that decided. */
  identity: string;
  verdict: "approve" | "deny";
  /** Why (a deny says it; an approve may be empty). */
  reason: string;
}

/** A decision as recorded, with the store's time. */
export interface ApprovalRecord extends ApprovalDecision {
  at: number;
}

/** What decideApproval did. */
export type ApprovalOutcome =
  /** Counted; the run still waits for `needed - approvals` more people. */
  | { outcome: "recorded"; run: RunRecord; approvals: number }
  /** The last approval needed: the run is queued. */
  | { outcome: "approved"; run: RunRecord; approvals: number }
  /** Denied: the run is cancelled. */
  | { outcome: "denied"; run: RunRecord }
  /** This person had approved already; nothing changed. */
  | { outcome: "already-approved"; run: RunRecord; approvals: number }
  /** The run no longer awaits approval (approved, denied, expired, cancelled, or unknown). */
  | { outcome: "not-awaiting"; run: RunRecord | undefined };

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
  /** Start queued (for the service), or already held by this process (foreground run). */
  lease?: StartLease;
  /** Cluster id and the runs this one waits for. */
  group?: string;
  after?: string[];
  forced?: boolean;
  /** A plan run (RunRecord.plan); default false. */
  plan?: boolean;
  /** Step names in order, stored as pending steps: the pipeline's steps, then its on_failure steps. */
  stepNames: string[];
  /**
   * Create it awaiting these approvals (no lease, whatever `lease` says); it expires this long
   * after creation, measured by the store's clock.
   */
  approval?: PendingApproval;
  /**
   * A plan-then-apply: a plan run (`plan` must be true) whose success creates its apply run
   * awaiting this approval (finishPlanForApproval).
   */
  applyApproval?: PendingApproval;
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

/** One line of a run's log (a `step-log` event of the feed). */
export interface LogLine {
  /** The feed sequence number of the line. */
  id: number;
  runId: string;
  /** Row of the step in the run's step list (main steps first, then on_failure steps). */
  stepIndex: number;
  step: StepPosition;
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

/** Where a page of runs ends: the next page starts after this run (newest-first order). */
export interface RunCursor {
  createdAt: number;
  id: string;
}

/** Filters for one page of runs, newest first (created_at, then id, both descending). */
export interface RunPageQuery {
  host?: string;
  group?: string;
  pipeline?: string;
  requestedBy?: string;
  states?: RunState[];
  /** Created at or after (ms since the epoch). */
  since?: number;
  /** Created before (ms since the epoch). */
  until?: number;
  limit: number;
  /** Continue after this run (keyset paging: stable while runs are added). */
  after?: RunCursor;
}

/** One page of runs, and where the next one starts (undefined: this was the last). */
export interface RunPage {
  runs: RunRecord[];
  next: RunCursor | undefined;
}

/** What deleteFinishedRun did. */
export type RunDeletion =
  | { outcome: "deleted" }
  | { outcome: "not-found" }
  /** Still queued or running: only a finished run may be deleted. */
  | { outcome: "not-finished"; run: RunRecord };

/** Filters for reading the audit trail, newest first. */
export interface AuditQuery {
  limit: number;
  /** Entries at or after (ms since the epoch). */
  since?: number;
  identity?: string;
}

/** What people are shown of a run: everything but the executing process's bookkeeping. */
export type RunView = Omit<
  RunRecord,
  "pipelineJson" | "leaseOwner" | "leaseExpiresAt" | "cancelRequested" | "applyApproval" | "planRun"
>;

/** One host as the per-host index knows it: its latest run (newest created) and how many it has had. */
export interface HostEntry {
  host: string;
  latest: RunView;
  runCount: number;
  /** When the index last changed for this host (the store's clock). */
  updatedAt: number;
}

/** A page of hosts, in host-name order. */
export interface HostPage {
  hosts: HostEntry[];
  /** Pass as `after` for the next page; null on the last page. */
  next: string | null;
  /** How many hosts the index holds in all. */
  total: number;
}

/** Keyset paging over hosts: those named after `after` (by string order), at most `limit` (default 100). */
export interface HostQuery {
  after?: string;
  limit?: number;
}

/** Keyset paging over one host's runs, newest first: those older than run `before`. */
export interface HistoryQuery {
  before?: string;
  limit?: number;
}

/** A page of one host's runs, newest first (created_at, then id, descending). */
export interface HistoryPage {
  runs: RunRecord[];
  /** Pass as `before` for the next page; null on the last page. */
  next: string | null;
}

/** The right to write a run's progress: held by `owner` until its lease expires or is taken over. */
export interface Lease {
  runId: string;
  owner: string;
}

/** A step's fields a lease holder may change. */
export type StepPatch = Partial<Omit<StepRecord, "runId" | "index" | "name" | "onFailure">>;

/** A lease that was renewed, and whether an operator asked meanwhile to cancel its run. */
export interface HeldLease {
  runId: string;
  cancelRequested: boolean;
}

/** What a lease holder records about one step, in one write. */
export interface StepWrite {
  patch: StepPatch;
  /** Move the run's position to this step (main steps only: on_failure steps never move it). */
  moveRun?: boolean;
  /** The clipboard the step handed back (its output snapshot). */
  output?: string;
  /** The feed event that tells followers about it. */
  event?: StepEventBody;
}

/** Feed events about a step; the store stamps them with run, host, origin, time and sequence. */
export type StepEventBody = Extract<RunEventBody, { step: StepPosition }>;

/** How a run ended, as its lease holder reports it. */
export interface RunEnding {
  state: "succeeded" | "failed" | "cancelled";
  error: WireError | null;
}

/** A new or retried run's start: queued for any service, or already held by a foreground process. */
export interface StartLease {
  owner: string;
  leaseMs: number;
}

/** What a retry changes: steps from `from` on are reset and the run is queued (or held) again. */
export interface RetryRequest {
  runId: string;
  from: number;
  steps: { name: string; onFailure: boolean }[];
  /** An operator's edited clipboard, stored as the input of step `from`. */
  clipboardYaml?: string;
  requestedBy: string;
  origin: string;
  forced: boolean;
  lease?: StartLease;
}

/** What cancelIfQueued did. */
export type QueuedCancel =
  | { outcome: "cancelled"; run: RunRecord }
  /** It was no longer queued (a process claimed it, or it ended): request the cancel instead. */
  | { outcome: "not-queued"; run: RunRecord | undefined };

/** Filters for reading the event feed. */
export interface FeedQuery {
  runId?: string;
  limit?: number;
}

/** Options for following the feed. */
export interface FollowOptions extends FeedQuery {
  signal: AbortSignal;
  /** How often to look for new events when there are none (stores that can push ignore it). */
  pollMs?: number;
}

/**
 * Persistence for runs, with intent-level operations: every write that assumes a state checks
 * it in the same statement (compare-and-set), and every write of a run's progress is fenced by
 * its lease, so a process whose lease was taken over cannot overwrite its successor's work.
 * Lease times come from the store's clock alone. All methods are safe under concurrent runs and
 * several processes.
 */
export interface RunStore extends ScheduleStore, NodeEventStore {
  /** The store's clock (ms since the epoch): the one leases are measured by. */
  now(): Promise<number>;

  /**
   * Create a run, refusing (RunError E_HOST_BUSY, naming the holding run) when the host already
   * has a queued or running run. Appends `run-queued`.
   */
  createRun(run: NewRun): Promise<RunRecord>;
  getRun(id: string): Promise<RunRecord | undefined>;
  /** Newest first. */
  listRuns(query: RunQuery): Promise<RunRecord[]>;
  /** One page of runs matching the filters, newest first, with the cursor of the next page. */
  pageRuns(query: RunPageQuery): Promise<RunPage>;
  /** How many runs are in each state (states without runs are 0). */
  countRunsByState(): Promise<Record<RunState, number>>;
  /**
   * Delete a finished (succeeded, failed or cancelled) run with its steps and clipboard snapshots,
   * checking the state in the same statement; a queued or running run is left alone. Its feed
   * events stay: the feed is append-only, so a sequence number is never reused.
   */
  deleteFinishedRun(runId: string): Promise<RunDeletion>;

  /** Runs waiting for a process: queued ones, and running ones whose lease has expired. */
  claimableRuns(): Promise<RunRecord[]>;

  /**
   * Every host that has runs, with its latest run, from a per-host index kept current in the same
   * transaction as every run that is created or deleted (not a scan of runs). A run's state as it
   * changes shows at once. Keyset paging by host name.
   */
  listHosts(query: HostQuery): Promise<HostPage>;
  /** One host's runs, newest first, keyset paged; a `before` that is no run of the host is E_RUN_NOT_FOUND. */
  hostHistory(host: string, query: HistoryQuery): Promise<HistoryPage>;
  /**
   * Take the run's lease if it is queued or running and its lease is free, expired or already
   * ours; a queued run becomes running. The claimed record, or undefined when someone holds it.
   */
  claim(runId: string, owner: string, leaseMs: number): Promise<RunRecord | undefined>;
  /** Extend the leases of these runs, only where `owner` still holds them; those still held. */
  renew(owner: string, runIds: string[], leaseMs: number): Promise<HeldLease[]>;
  /** Give the lease up at once, leaving the run running for the next process (shutdown handover). */
  release(lease: Lease): Promise<boolean>;
  /** Mark a held run started (now, unless it had begun a step before) and append `run-started`. */
  markStarted(lease: Lease): Promise<RunRecord | undefined>;
  /**
   * Write the final state only if the lease is still held; clears the lease and any cancel
   * request and appends `run-finished`. Undefined when the lease was lost.
   */
  finishIfOwner(lease: Lease, ending: RunEnding): Promise<RunRecord | undefined>;
  /**
   * End a plan-then-apply's plan run (one with `applyApproval`) as succeeded and, in the same
   * transaction, create its apply run on the host the plan run held: the same pipeline, design as
   * loaded (the plan run's step-0 input), requester, origin and force; not a plan; awaiting
   * `applyApproval` (deadline from now, store's clock); `planRun` naming the plan run. Appends the
   * plan run's `run-finished`, then the apply run's `run-awaiting-approval`. Fenced by the lease:
   * undefined when it was lost. RunError E_RUN_STATE for a run that is no plan-then-apply.
   */
  finishPlanForApproval(lease: Lease): Promise<{ plan: RunRecord; apply: RunRecord } | undefined>;
  /**
   * Cancel a run only while it is still queued or awaiting approval (atomically); appends
   * `run-finished`.
   */
  cancelIfQueued(runId: string, error: WireError): Promise<QueuedCancel>;
  /** Ask the process executing a running run to cancel it; the record, or undefined if not running. */
  requestCancel(runId: string): Promise<RunRecord | undefined>;
  /**
   * Reset a failed or cancelled run from step `from` and queue it again (or hold it for a
   * foreground process), refusing with E_RUN_STATE / E_HOST_BUSY when that no longer holds.
   */
  retryRun(request: RetryRequest): Promise<RunRecord>;

  listSteps(runId: string): Promise<StepRecord[]>;
  /** Record a step's progress, only if the lease is still held; false when it was lost. */
  writeStep(lease: Lease, index: number, write: StepWrite): Promise<boolean>;

  /**
   * The clipboard before (input) or after (output) step `index`: the input is an operator's edit
   * at that step, else the newest output before it.
   */
  getSnapshot(runId: string, index: number, phase: "input" | "output"): Promise<string | undefined>;

  /** Append a line to the run's log (and so to the feed), only if the lease is still held. */
  appendLog(lease: Lease, line: Omit<Extract<RunEventBody, { type: "step-log" }>, "type">): Promise<boolean>;
  /** Append a step event to the feed, only if the lease is still held. */
  appendEvent(lease: Lease, event: StepEventBody): Promise<boolean>;
  /** The run's log lines, oldest first. */
  readLog(runId: string): Promise<LogLine[]>;

  /** The newest sequence number of the feed (0 when empty): follow from here for what comes next. */
  latestSeq(): Promise<number>;
  /** Events after sequence `afterSeq`, oldest first. */
  readEvents(afterSeq: number, query?: FeedQuery): Promise<RunEvent[]>;
  /** Every event after `afterSeq` as it is appended, by any process, until the signal aborts. */
  follow(afterSeq: number, options: FollowOptions): AsyncIterable<RunEvent>;

  /**
   * Record one person's approve or deny on a run awaiting approval, atomically with its effect:
   * the approval that reaches the run's count queues it (`run-queued`); a deny cancels it
   * (`run-finished`, E_RUN_DENIED). A person's second approve changes nothing. A run past its
   * deadline is expired here instead (as expireApprovals) and answers not-awaiting. Appends
   * `run-approval` for each decision recorded. Who may decide is the caller's rule, not the store's.
   */
  decideApproval(decision: ApprovalDecision): Promise<ApprovalOutcome>;
  /** The decisions on a run, oldest first. */
  listApprovals(runId: string): Promise<ApprovalRecord[]>;
  /**
   * Cancel every run whose approval deadline has passed (store's clock), each with one
   * compare-and-set so two services expiring at once cancel each run once; those cancelled.
   */
  expireApprovals(): Promise<RunRecord[]>;

  appendAudit(entry: AuditEntry): Promise<void>;
  listAudit(limit: number): Promise<AuditEntry[]>;
  /** The audit trail filtered by time and identity, newest first. */
  queryAudit(query: AuditQuery): Promise<AuditEntry[]>;

  close(): Promise<void>;
}
