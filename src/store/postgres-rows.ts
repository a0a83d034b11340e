/**
 * How runs and steps are laid out in PostgreSQL, and the mapping between rows and RunStore
 * records. Times are BIGINT ms; the pool parses BIGINT to number (ms since the epoch and feed
 * sequences stay far below 2^53).
 */
import pg from "pg";
import type { WireError } from "../protocol.js";
import type { ApprovalRequirement, PendingApproval, RunRecord, StepPatch, StepRecord } from "./run-store.js";

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
  cancel_requested: boolean;
  group_id: string | null;
  after_json: string;
  forced: boolean;
  approval_json: string | null;
  approval_expires_at: number | null;
  plan: boolean;
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
  on_failure: boolean;
  pid: number | null;
}

/** The columns of `runs` a record is read from (all but the insertion order). */
export const RUN_COLUMNS = `id, host, pipeline, pipeline_json, state, step_index, step_name, total_steps,
  requested_by, origin, source, created_at, started_at, finished_at, error_json, lease_owner,
  lease_expires_at, cancel_requested, group_id, after_json, forced, approval_json, approval_expires_at, plan,
  apply_approval_json, plan_run`;

/** The columns of `steps` a record is read from: named, as a prepared statement's result must keep its shape. */
export const STEP_ROW_COLUMNS = `run_id, idx, name, state, attempts, started_at, finished_at, duration_ms, error_json,
  on_failure, pid`;

/** States in which a run holds its host: the one-active-run-per-host index covers exactly these. */
export const HOST_HOLDING_STATES = `('awaiting_approval', 'queued', 'running')`;

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

const INT8_OID = 20;

/** Type parsers for the pool: BIGINT as number, everything else as pg does by default. */
export const pgTypes = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === INT8_OID
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** A StepPatch field as its column stores it. */
export function encodeStepField(patch: StepPatch, key: keyof StepPatch): unknown {
  return key === "error" ? encodeError(patch.error) : (patch[key] ?? null);
}

export function encodeError(error: WireError | null | undefined): string | null {
  return error === null || error === undefined ? null : JSON.stringify(error);
}

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
    cancelRequested: r.cancel_requested,
    group: r.group_id,
    after: JSON.parse(r.after_json) as string[],
    forced: r.forced,
    approval: approvalOf(r),
    plan: r.plan,
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
    onFailure: r.on_failure,
    pid: r.pid,
  };
}
