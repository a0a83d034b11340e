/**
 * What the fronts (CLI, chat, later HTTP) may ask of jarvis's runs. One implementation
 * (run-service.ts) sits on the engine and the store; every front goes through it, so a run started
 * in IRC can be followed from Matrix or the CLI. Clipboards and logs come back redacted.
 */
import type {
  ApprovalRecord,
  AuditEntry,
  AuditQuery,
  RunPage,
  RunPageQuery,
  HistoryPage,
  HistoryQuery,
  HostPage,
  HostQuery,
  FeedQuery,
  FollowOptions,
  RunRecord,
  StepRecord,
  LogLine,
} from "../store/run-store.js";
import type { RunEvent } from "../protocol.js";
import type { RunTarget } from "./run-target.js";
import type { FileAccess } from "../clipboard/sources/design-source.js";
import type { ApprovalRule } from "./approval-rule.js";
import type { Voter } from "./approvals.js";
import type { ReplayOnto } from "../commands/typed-command.js";

/** A resolved target, or a word that the operation resolves by the rule of run-target.ts. */
export type TargetRef = RunTarget | string;

/** Who asks, and where replies and progress go. */
export interface Requester {
  /** Verified identity, e.g. "irc:alice", "xmpp:alice@example.org", "cli:root". */
  identity: string;
  /** Where the command came from, e.g. "irc:#ops", "matrix:!room:server", "cli". */
  origin: string;
  /** Her acl.people name, when listed: none of her identities may approve what she asks for. */
  person?: string;
}

/** How a run is started. */
export interface StartOptions {
  /** Force it: steps see JARVIS_FORCE=1 (e.g. production:check lets a production host through). */
  force?: boolean;
  /**
   * A plan run: every step reports under `plan:` what it would change and changes nothing
   * (`jarvis run ... --plan`, chat `plan deploy`, the API's `{plan: true}`).
   */
  plan?: boolean;
  /**
   * Plan, then apply once approved: a plan run whose success creates the apply run awaiting
   * approval (`jarvis run ... --plan-then-apply`, chat `deploy cn=loki after plan`, the API's
   * `{plan_then_apply: true}`). One-host designs only.
   */
  planThenApply?: boolean;
  /** Execute it in the calling process (executeAll), not in the service: the CLI's foreground run. */
  foreground?: boolean;
  /**
   * Which local files the design may come from: "any" for the CLI's local operator,
   * "designs-dirs" (the default, so a new front is safe until it decides) for chat and the API.
   */
  fileAccess?: FileAccess;
  /** The approval the ACL role that allowed the command requires (checked before the pipeline's). */
  approval?: ApprovalRule;
  /** The design itself, instead of fetching it from the source (the API's inline `design`). */
  designText?: string;
}

/** What came of an approve or deny. */
export interface ApprovalResult {
  outcome: "recorded" | "approved" | "denied" | "already-approved";
  /** The run after the decision (queued once approved, cancelled once denied). */
  run: RunRecord;
  approvals: number;
  needed: number;
}

/** A pipeline as listed for people. */
export interface PipelineSummary {
  name: string;
  description: string;
  steps: string[];
}

/** A run with its steps, for status and history. */
export interface RunDetail {
  run: RunRecord;
  steps: StepRecord[];
  /** The approve/deny decisions on the run, oldest first (status fills it in). */
  approvals?: ApprovalRecord[];
}

/** One audited command; the time is added when it is recorded. */
export type AuditRecord = Omit<AuditEntry, "at">;

/**
 * The operations behind every command. Runs are named by a RunTarget that resolveTarget made from
 * the word someone typed (fronts resolve first, to check the ACL on the resolved host); an
 * operation on one run takes a host's latest run, and refuses a group (CommandError E_USAGE naming
 * its hosts).
 */
export interface RunControl {
  /** What a `<host|run|group>` word names (see run-target.ts for the rule). */
  resolveTarget(word: string): Promise<RunTarget>;
  /** The target of the run with this id; RunError E_RUN_NOT_FOUND when there is none. */
  runTarget(runId: string): Promise<RunTarget>;
  /** One page of runs, newest first (sources and errors redacted). */
  pageRuns(query: RunPageQuery): Promise<RunPage>;
  /** Delete a finished run and its clipboards: E_RUN_STATE while it is queued or running. */
  deleteRun(target: TargetRef): Promise<void>;
  /** How many runs are in each state (for metrics). */
  runCounts(): Promise<Record<RunRecord["state"], number>>;
  /** The audit trail filtered by time and identity, newest first. */
  queryAudit(query: AuditQuery): Promise<AuditEntry[]>;
  /** The run a target means: the run itself, or a host's latest run. */
  find(target: TargetRef): Promise<RunRecord>;
  /** Load the design from `source`, create a run of `pipeline` for each of its hosts and queue them. */
  startAll(pipeline: string, source: string, who: Requester, options?: StartOptions): Promise<RunRecord[]>;
  /** Execute runs created in the foreground, here, each once the runs it comes after succeeded. */
  executeAll(runs: RunRecord[]): Promise<RunRecord[]>;
  /** The latest run of a host, the run, or every run of a group (every host: `hosts`). */
  status(target: TargetRef): Promise<RunDetail[]>;
  /** The run's log, redacted. */
  log(target: TargetRef): Promise<LogLine[]>;
  /** The clipboard after step `step` (1-based; 0: the design as loaded; default: the latest), redacted. */
  clipboardValue(target: TargetRef, step?: number): Promise<Record<string, unknown>>;
  /** What step `step` (1-based) added, changed and removed, redacted. */
  diff(target: TargetRef, step: number): Promise<string>;
  /** Retry a failed or cancelled run from its failed step, optionally with an edited clipboard. */
  retry(
    target: TargetRef,
    who: Requester,
    clipboardYaml?: string,
    options?: StartOptions,
  ): Promise<RunRecord>;
  /**
   * Start `run`'s pipeline as it ran (its parameters and force flag) on each design `onto` names,
   * refusing before anything starts when one of the hosts named is busy. The new runs.
   */
  replay(target: TargetRef, onto: ReplayOnto, who: Requester, options?: StartOptions): Promise<RunRecord[]>;
  /** Take over an interrupted run (its lease expired) and execute it here to the end. */
  resume(target: TargetRef): Promise<RunRecord>;
  /** Cancel a queued or running run: its step's process group is killed, on_failure steps run. */
  cancel(target: TargetRef, who: Requester): Promise<RunRecord>;
  /**
   * Approve or deny a run awaiting approval as `voter` (refused with ApprovalRefused when her
   * decision may not count, RunError E_RUN_STATE when the run no longer waits).
   */
  decide(
    target: TargetRef,
    voter: Voter,
    verdict: "approve" | "deny",
    reason: string,
  ): Promise<ApprovalResult>;
  /** One page of every host with its latest run, from the per-host index (redacted). */
  hosts(query: HostQuery): Promise<HostPage>;
  /** One page of a host's runs, newest first (redacted). */
  historyPage(host: string, query: HistoryQuery): Promise<HistoryPage>;
  /** Runs of a host, newest first (sources and errors redacted). */
  history(host: string, limit?: number): Promise<RunRecord[]>;
  /** The design source of a host's latest run, as given (to deploy from again, never to show). */
  lastSource(host: string): Promise<string | undefined>;
  pipelines(): Promise<PipelineSummary[]>;
  /** Append to the audit trail (the dispatcher masks secrets in the command text first). */
  recordAudit(record: AuditRecord): Promise<void>;
  /** The newest audit entries, newest first. */
  listAudit(limit: number): Promise<AuditEntry[]>;
  /**
   * Every run event after sequence `afterSeq` (of one run with `runId`), as it happens, whichever
   * process executes the run, until the signal aborts.
   */
  follow(afterSeq: number, options: FollowOptions): AsyncIterable<RunEvent>;
  /** The newest event's sequence: follow from here to see only what happens next. */
  latestSeq(): Promise<number>;
  /** The events after `afterSeq` there are now, oldest first. */
  readEvents(afterSeq: number, query?: FeedQuery): Promise<RunEvent[]>;
}
