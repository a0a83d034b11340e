/**
 * What of the run and step rows is PostgreSQL's own: the columns a prepared statement reads, the
 * pool's parsing of BIGINT, and how a step's field is written (the mapping of rows to records is
 * run-rows.ts, shared with SQLite). Times are BIGINT ms; the pool parses BIGINT to number (ms since
 * the epoch and feed sequences stay far below 2^53).
 */
import pg from "pg";
import { encodeError } from "./run-rows.js";
import type { StepPatch } from "./run-store.js";

/** The columns of `runs` a record is read from (all but the insertion order). */
export const RUN_COLUMNS = `id, host, pipeline, pipeline_json, state, step_index, step_name, total_steps,
  requested_by, origin, source, created_at, started_at, finished_at, error_json, lease_owner,
  lease_expires_at, cancel_requested, group_id, after_json, forced, approval_json, approval_expires_at, plan,
  apply_approval_json, plan_run`;

/** The columns of `steps` a record is read from: named, as a prepared statement's result must keep its shape. */
export const STEP_ROW_COLUMNS = `run_id, idx, name, state, attempts, started_at, finished_at, duration_ms, error_json,
  on_failure, pid`;

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
