/**
 * A remote-execution job: one operation over a resolved list of nodes, each with its own state.
 *   node: queued -> received (the agent's ACK) -> running -> ok | changed | failed | unreachable | expired | skipped
 *   job:  running -> done | failure | cancelled
 */
import type { Operation } from "../agent/protocol.js";

export const NODE_FINAL_STATES = ["ok", "changed", "failed", "unreachable", "expired", "skipped"] as const;
export const NODE_STATES = ["queued", "received", "running", ...NODE_FINAL_STATES] as const;
export type NodeJobState = (typeof NODE_STATES)[number];
export const JOB_STATES = ["running", "done", "failure", "cancelled"] as const;
export type JobState = (typeof JOB_STATES)[number];

/** Node states that count against max_failures and make a job a failure. */
export const FAILED_STATES: readonly NodeJobState[] = ["failed", "unreachable", "expired"];

export function isFinal(state: NodeJobState): boolean {
  return (NODE_FINAL_STATES as readonly string[]).includes(state);
}

/** A job's operation: any agent operation but `cancel`, which jarvis sends itself. */
export type JobOperation = Exclude<Operation, { kind: "cancel" }>;

/** How the nodes were chosen, kept so a rerun or the history can say it again. */
export interface JobTargets {
  /** Host names and globs (`web-*`) as given. */
  words: string[];
  /** A selector (`os.family=debian`), resolved to hosts before the job is made. */
  where?: string;
}

export type BatchSize = { count: number } | { percent: number };

export interface JobOptions {
  batch?: BatchSize;
  /** Failed, unreachable or expired nodes tolerated; one more skips the rest. */
  maxFailures?: number;
  /** Most nodes in flight at once. */
  concurrency?: number;
  timeoutMs: number;
  ttlMs: number;
}

export interface JobRecord {
  id: string;
  createdAt: number;
  finishedAt: number | null;
  requester: string;
  operation: JobOperation;
  targets: JobTargets;
  options: JobOptions;
  state: JobState;
  rerunOf: string | null;
}

export interface JobNodeRecord {
  jobId: string;
  host: string;
  /** Position in the job (batches follow it). */
  position: number;
  requestId: string;
  state: NodeJobState;
  /** When the request was published (null: not yet, waiting for its batch or concurrency). */
  sentAt: number | null;
  /** The request's stream sequence, to withdraw it on cancel or expiry. */
  streamSeq: number | null;
  receivedAt: number | null;
  finishedAt: number | null;
  exitCode: number | null;
  stdoutTail: string;
  stderrTail: string;
  message: string;
}
