/**
 * How jobs are laid out in a SQL table, whichever the database: the rows both job stores read,
 * their mapping to records, and what a node's change writes. SQLite keeps booleans as 0/1 where
 * PostgreSQL has BOOLEAN, and both keep the JSON parts as text, so one mapping serves both.
 */
import type { JobNodeRecord, JobRecord, JobState, NodeJobState } from "./job.js";
import type { JobEvent, JobNodePatch, JobQuery } from "./job-store.js";

/** The column of each field a node's patch may set. */
export const NODE_PATCH_COLUMNS: Record<keyof JobNodePatch, string> = {
  state: "state",
  sentAt: "sent_at",
  streamSeq: "stream_seq",
  receivedAt: "received_at",
  finishedAt: "finished_at",
  exitCode: "exit_code",
  stdoutTail: "stdout_tail",
  stderrTail: "stderr_tail",
  message: "message",
};

export interface JobRow {
  id: string;
  created_at: number;
  finished_at: number | null;
  requester: string;
  operation: string;
  targets: string;
  options: string;
  state: JobState;
  rerun_of: string | null;
}

export interface JobEventRow {
  seq: number;
  job_id: string;
  host: string | null;
  state: JobEvent["state"];
  at: number;
  exit_code: number | null;
  message: string;
  final: number | boolean;
}

export interface JobNodeRow {
  job_id: string;
  host: string;
  position: number;
  request_id: string;
  state: NodeJobState;
  sent_at: number | null;
  stream_seq: number | null;
  received_at: number | null;
  finished_at: number | null;
  exit_code: number | null;
  stdout_tail: string;
  stderr_tail: string;
  message: string;
}

/** The columns of a new job, in the order jobInsertValues gives their values. */
export const JOB_INSERT_COLUMNS =
  "id, created_at, finished_at, requester, operation, targets, options, state, rerun_of";

export function jobInsertValues(job: JobRecord): (string | number | null)[] {
  return [
    job.id,
    job.createdAt,
    job.finishedAt,
    job.requester,
    JSON.stringify(job.operation),
    JSON.stringify(job.targets),
    JSON.stringify(job.options),
    job.state,
    job.rerunOf,
  ];
}

/** The patch's fields that are set, each with its column and value. */
export function patchAssignments(patch: JobNodePatch): { column: string; value: string | number | null }[] {
  return (Object.keys(patch) as (keyof JobNodePatch)[]).flatMap((key) => {
    const value = patch[key];
    return value === undefined ? [] : [{ column: NODE_PATCH_COLUMNS[key], value }];
  });
}

/** What the event of a node's patch says; undefined when the patch moves no state (no event). */
export function nodeChangeEvent(
  patch: JobNodePatch,
): Pick<JobEvent, "state" | "at" | "exitCode" | "message"> | undefined {
  if (patch.state === undefined) return undefined;
  return {
    state: patch.state,
    at: patch.finishedAt ?? Date.now(),
    exitCode: patch.exitCode ?? null,
    message: patch.message ?? "",
  };
}

export function toJob(r: JobRow): JobRecord {
  return {
    id: r.id,
    createdAt: r.created_at,
    finishedAt: r.finished_at,
    requester: r.requester,
    operation: JSON.parse(r.operation) as JobRecord["operation"],
    targets: JSON.parse(r.targets) as JobRecord["targets"],
    options: JSON.parse(r.options) as JobRecord["options"],
    state: r.state,
    rerunOf: r.rerun_of,
  };
}

export function toJobEvent(r: JobEventRow): JobEvent {
  return {
    seq: r.seq,
    jobId: r.job_id,
    host: r.host,
    state: r.state,
    at: r.at,
    exitCode: r.exit_code,
    message: r.message,
    final: r.final === true || r.final === 1,
  };
}

export function toJobNode(r: JobNodeRow): JobNodeRecord {
  return {
    jobId: r.job_id,
    host: r.host,
    position: r.position,
    requestId: r.request_id,
    state: r.state,
    sentAt: r.sent_at,
    streamSeq: r.stream_seq,
    receivedAt: r.received_at,
    finishedAt: r.finished_at,
    exitCode: r.exit_code,
    stdoutTail: r.stdout_tail,
    stderrTail: r.stderr_tail,
    message: r.message,
  };
}

/** What a database spells its own way in a page of jobs. */
export interface JobPageDialect {
  /** The placeholder of one more argument. */
  param(value: unknown): string;
  /** True for a job_nodes row whose host is one of `hosts`. */
  hostIn(hosts: readonly string[]): string;
  /** The `where` selector a job was made with, from its `targets` column. */
  selectorColumn: string;
}

/** A page of jobs, newest first, keyset-paged by (created_at, id). */
export function jobPageSql(query: JobQuery, d: JobPageDialect): string {
  const where: string[] = [];
  if (query.hosts !== undefined)
    where.push(
      `EXISTS (SELECT 1 FROM job_nodes WHERE job_nodes.job_id = jobs.id AND ${d.hostIn(query.hosts)})`,
    );
  if (query.selector !== undefined) where.push(`${d.selectorColumn} = ${d.param(query.selector)}`);
  if (query.before !== undefined) {
    const at = d.param(query.before.createdAt);
    where.push(`(created_at < ${at} OR (created_at = ${at} AND id < ${d.param(query.before.id)}))`);
  }
  return `SELECT * FROM jobs ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""}
    ORDER BY created_at DESC, id DESC LIMIT ${d.param(query.limit)}`;
}
