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

export interface JobStore {
  createJob(job: JobRecord, hosts: { host: string; requestId: string }[]): Promise<void>;
  getJob(id: string): Promise<JobRecord | undefined>;
  listJobs(limit: number, host?: string): Promise<JobRecord[]>;
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
  /** Move a job from `from` to `to`; false when it was not in `from`. */
  setJobState(id: string, from: readonly JobState[], to: JobState, at: number | null): Promise<boolean>;
  /** Jobs still running (picked up by a restarted controller). */
  runningJobs(): Promise<JobRecord[]>;
}
