/**
 * How runs and steps are laid out in a SQL table, whichever the database: the rows both run stores
 * read and their mapping to RunStore records. SQLite keeps booleans as 0/1 where PostgreSQL has
 * BOOLEAN, and both keep the JSON parts as text, so one mapping serves both (as job-rows.ts does
 * for jobs).
 */
import type { WireError } from "../protocol.js";
import type {
  ApprovalRequirement,
  HostEntry,
  PendingApproval,
  RunRecord,
  StepPatch,
  StepRecord,
} from "./run-store.js";

/** A boolean column: 0/1 in SQLite, BOOLEAN in PostgreSQL. */
type SqlFlag = boolean | number;

function isSet(flag: SqlFlag): boolean {
  return flag === true || flag === 1;
}

/** States in which a run holds its host: the one-active-run-per-host index covers exactly these. */
export const HOST_HOLDING_STATES = `('awaiting_approval', 'queued', 'running')`;

/** A row of `runs`. */
export interface RunRow {
  id: string;
  host: string;
  pipeline: string;
  pipeline_json: string;
  state: RunRecord["state"];
  step_index: number;
  step_name: string | null;
  total_steps: number;
  requested_by: string;
  origin: string;
  source: string;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  error_json: string | null;
  lease_owner: string | null;
  lease_expires_at: number | null;
  cancel_requested: SqlFlag;
  group_id: string | null;
  after_json: string;
  forced: SqlFlag;
  approval_json: string | null;
  approval_expires_at: number | null;
  plan: SqlFlag;
  apply_approval_json: string | null;
  plan_run: string | null;
}

/** A row of `steps`. */
export interface StepRow {
  run_id: string;
  idx: number;
  name: string;
  state: StepRecord["state"];
  attempts: number;
  started_at: number | null;
  finished_at: number | null;
  duration_ms: number | null;
  error_json: string | null;
  on_failure: SqlFlag;
  pid: number | null;
}

/** StepPatch fields to `steps` columns. */
export const STEP_COLUMNS: Record<keyof StepPatch, string> = {
  state: "state",
  attempts: "attempts",
  startedAt: "started_at",
  finishedAt: "finished_at",
  durationMs: "duration_ms",
  error: "error_json",
  pid: "pid",
};

/** An error as its column stores it. */
export function encodeError(error: WireError | null | undefined): string | null {
  return error === null || error === undefined ? null : JSON.stringify(error);
}

/** A stored error, as it was. */
export function parseError(json: string | null): WireError | null {
  return json ? (JSON.parse(json) as WireError) : null;
}

/** A `runs` row as a RunRecord. */
export function toRun(r: RunRow): RunRecord {
  return {
    id: r.id,
    host: r.host,
    pipeline: r.pipeline,
    pipelineJson: r.pipeline_json,
    state: r.state,
    stepIndex: r.step_index,
    stepName: r.step_name,
    totalSteps: r.total_steps,
    requestedBy: r.requested_by,
    origin: r.origin,
    source: r.source,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    error: parseError(r.error_json),
    leaseOwner: r.lease_owner,
    leaseExpiresAt: r.lease_expires_at,
    cancelRequested: isSet(r.cancel_requested),
    group: r.group_id,
    after: JSON.parse(r.after_json) as string[],
    forced: isSet(r.forced),
    approval: approvalOf(r),
    plan: isSet(r.plan),
    applyApproval:
      r.apply_approval_json === null ? null : (JSON.parse(r.apply_approval_json) as PendingApproval),
    planRun: r.plan_run,
  };
}

/** The stored approval requirement of a run row (or its copy in the per-host index). */
export function approvalOf(r: Pick<RunRow, "approval_json" | "approval_expires_at">): RunRecord["approval"] {
  return r.approval_json === null
    ? null
    : { ...(JSON.parse(r.approval_json) as ApprovalRequirement), expiresAt: r.approval_expires_at ?? 0 };
}

/** A `steps` row as a StepRecord. */
export function toStep(r: StepRow): StepRecord {
  return {
    runId: r.run_id,
    index: r.idx,
    name: r.name,
    state: r.state,
    attempts: r.attempts,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    durationMs: r.duration_ms,
    error: parseError(r.error_json),
    onFailure: isSet(r.on_failure),
    pid: r.pid,
  };
}

/**
 * The run columns the per-host index copies (of its latest run): what a host's line, `status --json` and GET /hosts show. Kept
 * in `hosts` itself because joining 10,000 rows to `runs` by id reads pages of a 100,000-run table
 * in random order (ten times slower than reading the compact `hosts` table in order).
 */
export const HOST_ENTRY_COLUMNS = [
  "pipeline",
  "state",
  "step_index",
  "step_name",
  "total_steps",
  "requested_by",
  "origin",
  "source",
  "created_at",
  "started_at",
  "finished_at",
  "error_json",
  "group_id",
  "after_json",
  "forced",
  "approval_json",
  "approval_expires_at",
  "plan",
] as const;

/** A row of the per-host index. */
export type HostRow = Pick<RunRow, (typeof HOST_ENTRY_COLUMNS)[number] | "host"> & {
  run_id: string;
  run_count: number;
  updated_at: number;
};

/** A row of the per-host index as a HostEntry. */
export function toHostEntry(row: HostRow): HostEntry {
  return {
    host: row.host,
    runCount: row.run_count,
    updatedAt: row.updated_at,
    latest: {
      id: row.run_id,
      host: row.host,
      pipeline: row.pipeline,
      state: row.state,
      stepIndex: row.step_index,
      stepName: row.step_name,
      totalSteps: row.total_steps,
      requestedBy: row.requested_by,
      origin: row.origin,
      source: row.source,
      createdAt: row.created_at,
      startedAt: row.started_at,
      finishedAt: row.finished_at,
      error: parseError(row.error_json),
      group: row.group_id,
      after: JSON.parse(row.after_json) as string[],
      forced: isSet(row.forced),
      approval: approvalOf(row),
      plan: isSet(row.plan),
    },
  };
}
