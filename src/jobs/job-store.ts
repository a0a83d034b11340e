/** Jobs and their per-node results: a sibling of RunStore in the same database. */
import type { JobNodeRecord, JobRecord, JobState, NodeJobState } from "./job.js";

export type JobNodePatch = Partial<
  Pick<
    JobNodeRecord,
    | "state"
    | "sentAt"
    | "streamSeq"
    | "receivedAt"
    | "finishedAt"
    | "exitCode"
    | "stdoutTail"
    | "stderrTail"
    | "message"
  >
>;

/** One fenced node update: `patch` applies only while the node is in one of `from`. */
export interface JobNodeChange {
  jobId: string;
  host: string;
  from: readonly NodeJobState[];
  patch: JobNodePatch;
}

/**
 * One state change of a job or of one of its nodes, numbered in the store as it is written (with
 * the change itself), so a follower resumes after the last sequence it saw.
 */
export interface JobEvent {
  seq: number;
  jobId: string;
  /** The node that changed; null for the job itself. */
  host: string | null;
  state: NodeJobState | JobState;
  at: number;
  exitCode: number | null;
  message: string;
  /** The job ended with this event: nothing follows it. */
  final: boolean;
}

/** The end of a page of jobs, newest first: the next page starts after it. */
export interface JobCursor {
  createdAt: number;
  id: string;
}

/** A page of jobs, newest first; the filters narrow it and combine. */
export interface JobQuery {
  limit: number;
  /** Only jobs older than that page's end. */
  before?: JobCursor;
  /** Only jobs that went to at least one of these hosts (none: no job). */
  hosts?: readonly string[];
  /** Only jobs made with exactly this selector as their `where` (as stored: normalSelectorText). */
  selector?: string;
}

export interface JobStore {
  createJob(job: JobRecord, hosts: { host: string; requestId: string }[]): Promise<void>;
  getJob(id: string): Promise<JobRecord | undefined>;
  listJobs(query: JobQuery): Promise<JobRecord[]>;
  /** A job's events after `afterSeq`, oldest first. */
  jobEvents(jobId: string, afterSeq: number, limit: number): Promise<JobEvent[]>;
  /** Delete a finished job with its nodes and events; false when it is unknown or still running. */
  deleteJob(id: string): Promise<boolean>;
  jobNodes(id: string): Promise<JobNodeRecord[]>;
  /** The job node a request id belongs to, on that host only. */
  nodeByRequest(host: string, requestId: string): Promise<JobNodeRecord | undefined>;
  /** Apply `patch` only while the node is in one of `from`; false when it was not (a late reply). */
  updateNode(
    jobId: string,
    host: string,
    from: readonly NodeJobState[],
    patch: JobNodePatch,
  ): Promise<boolean>;
  /**
   * Many fenced updates in one transaction, applied in order (a node's ACK, running and result
   * that arrived together each see the state the one before left); for each, whether it applied.
   */
  updateNodes(changes: readonly JobNodeChange[]): Promise<boolean[]>;
  /** Move a job from `from` to `to`; false when it was not in `from`. */
  setJobState(id: string, from: readonly JobState[], to: JobState, at: number | null): Promise<boolean>;
  /** Jobs still running (picked up by a restarted controller). */
  runningJobs(): Promise<JobRecord[]>;
}
