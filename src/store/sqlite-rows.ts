/**
 * How runs and steps are laid out in SQLite: the schema, its in-place migrations, and the
 * mapping between rows and the RunStore records.
 */
import type Database from "better-sqlite3";
import type { WireError } from "../protocol.js";
import type { ApprovalRequirement, PendingApproval, RunRecord, StepPatch, StepRecord } from "./run-store.js";

/** States in which a run holds its host: a second run there is refused. */
export const HOST_HOLDING_STATES = `('awaiting_approval', 'queued', 'running')`;

/** The tables, created when missing. */
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY, host TEXT NOT NULL, pipeline TEXT NOT NULL, pipeline_json TEXT NOT NULL,
  state TEXT NOT NULL, step_index INTEGER NOT NULL, total_steps INTEGER NOT NULL,
  requested_by TEXT NOT NULL, origin TEXT NOT NULL, source TEXT NOT NULL,
  created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER, error_json TEXT,
  lease_owner TEXT, lease_expires_at INTEGER, cancel_requested INTEGER NOT NULL DEFAULT 0,
  group_id TEXT, after_json TEXT NOT NULL DEFAULT '[]', forced INTEGER NOT NULL DEFAULT 0,
  step_name TEXT, approval_json TEXT, approval_expires_at INTEGER, plan INTEGER NOT NULL DEFAULT 0,
  apply_approval_json TEXT, plan_run TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS runs_one_active_per_host ON runs(host)
  WHERE state IN ('awaiting_approval', 'queued', 'running');
CREATE INDEX IF NOT EXISTS runs_by_host ON runs(host, created_at);
CREATE INDEX IF NOT EXISTS runs_by_state ON runs(state);
CREATE INDEX IF NOT EXISTS runs_by_created ON runs(created_at, id);
CREATE TABLE IF NOT EXISTS steps (
  run_id TEXT NOT NULL, idx INTEGER NOT NULL, name TEXT NOT NULL, state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, started_at INTEGER, finished_at INTEGER, duration_ms INTEGER,
  error_json TEXT, on_failure INTEGER NOT NULL DEFAULT 0, pid INTEGER, PRIMARY KEY (run_id, idx)
);
CREATE TABLE IF NOT EXISTS snapshots (
  run_id TEXT NOT NULL, idx INTEGER NOT NULL, phase TEXT NOT NULL, yaml TEXT NOT NULL,
  PRIMARY KEY (run_id, idx, phase)
);
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY, run_id TEXT NOT NULL, at INTEGER NOT NULL,
  host TEXT NOT NULL, origin TEXT NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_run ON events(run_id, seq);
CREATE TABLE IF NOT EXISTS approvals (
  run_id TEXT NOT NULL, person TEXT NOT NULL, identity TEXT NOT NULL, verdict TEXT NOT NULL,
  reason TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (run_id, person, verdict)
);
CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, identity TEXT NOT NULL,
  network TEXT NOT NULL, room TEXT NOT NULL, command TEXT NOT NULL, decision TEXT NOT NULL,
  reason TEXT NOT NULL, run_id TEXT
);
`;

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
  cancel_requested: number;
  group_id: string | null;
  after_json: string;
  forced: number;
  approval_json: string | null;
  approval_expires_at: number | null;
  plan: number;
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
  on_failure: number;
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

/** Bring a store made by an older jarvis up to date, in place (columns are only ever added). */
export function migrate(db: Database.Database): void {
  const columns = new Set(
    (db.prepare(`PRAGMA table_info(runs)`).all() as { name: string }[]).map((c) => c.name),
  );
  if (!columns.has("group_id")) db.exec(`ALTER TABLE runs ADD COLUMN group_id TEXT`);
  if (!columns.has("after_json"))
    db.exec(`ALTER TABLE runs ADD COLUMN after_json TEXT NOT NULL DEFAULT '[]'`);
  if (!columns.has("forced")) db.exec(`ALTER TABLE runs ADD COLUMN forced INTEGER NOT NULL DEFAULT 0`);
  if (!columns.has("plan")) db.exec(`ALTER TABLE runs ADD COLUMN plan INTEGER NOT NULL DEFAULT 0`);
  if (!columns.has("apply_approval_json")) {
    db.exec(`ALTER TABLE runs ADD COLUMN apply_approval_json TEXT`);
    db.exec(`ALTER TABLE runs ADD COLUMN plan_run TEXT`);
  }
  db.exec(`CREATE INDEX IF NOT EXISTS runs_by_group ON runs(group_id)`);
  if (!columns.has("step_name")) {
    db.exec(`ALTER TABLE runs ADD COLUMN step_name TEXT`);
    // Runs from before on_failure steps stopped moving step_index may point past the main list.
    db.exec(`UPDATE runs SET step_index = total_steps - 1 WHERE step_index >= total_steps`);
    db.exec(
      `UPDATE runs SET step_name = (SELECT name FROM steps WHERE run_id = runs.id AND idx = runs.step_index)`,
    );
  }
  if (!columns.has("approval_json")) {
    db.exec(`ALTER TABLE runs ADD COLUMN approval_json TEXT`);
    db.exec(`ALTER TABLE runs ADD COLUMN approval_expires_at INTEGER`);
  }
  // A run awaiting approval holds its host too: the index from before approvals did not say so.
  const index = db
    .prepare(`SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'runs_one_active_per_host'`)
    .get() as { sql: string } | undefined;
  if (!index?.sql.includes("awaiting_approval")) {
    db.exec(`DROP INDEX IF EXISTS runs_one_active_per_host`);
    db.exec(
      `CREATE UNIQUE INDEX runs_one_active_per_host ON runs(host) WHERE state IN ${HOST_HOLDING_STATES}`,
    );
  }
  db.exec(`CREATE INDEX IF NOT EXISTS runs_by_approval_deadline ON runs(approval_expires_at)
    WHERE state = 'awaiting_approval'`);
  const stepColumns = new Set(
    (db.prepare(`PRAGMA table_info(steps)`).all() as { name: string }[]).map((c) => c.name),
  );
  if (!stepColumns.has("pid")) db.exec(`ALTER TABLE steps ADD COLUMN pid INTEGER`);
  // on_failure steps were once told apart by a name prefix; the on_failure column says it now.
  db.exec(
    `UPDATE steps SET name = substr(name, 12) WHERE on_failure = 1 AND name LIKE 'on\\_failure %' ESCAPE '\\'`,
  );
  moveLogsToFeed(db);
}

/**
 * The log once had its own table; its lines are now `step-log` events of the feed. Old lines move
 * over once, in their order, with their step's position rebuilt from the steps table.
 */
function moveLogsToFeed(db: Database.Database): void {
  const hasLogs = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'logs'`).get();
  if (!hasLogs) return;
  db.transaction(() => {
    db.exec(`
      INSERT INTO events (run_id, at, host, origin, type, body)
      SELECT l.run_id, l.at, r.host, r.origin, 'step-log', json_object(
        'type', 'step-log',
        'step', json_object(
          'phase', CASE WHEN l.step_index >= r.total_steps THEN 'on_failure' ELSE 'main' END,
          'index', CASE WHEN l.step_index >= r.total_steps THEN l.step_index - r.total_steps ELSE l.step_index END,
          'total', CASE WHEN l.step_index >= r.total_steps
            THEN (SELECT count(*) FROM steps f WHERE f.run_id = l.run_id AND f.on_failure = 1)
            ELSE r.total_steps END,
          'name', COALESCE((SELECT s.name FROM steps s WHERE s.run_id = l.run_id AND s.idx = l.step_index), '')),
        'attempt', l.attempt, 'stream', l.stream, 'line', l.line)
      FROM logs l JOIN runs r ON r.id = l.run_id ORDER BY l.id`);
    db.exec(`DROP TABLE logs`);
  }).immediate();
}

/** A record field as its column stores it. */
export function encode(key: string, value: unknown): unknown {
  if (key === "error") return value === null || value === undefined ? null : JSON.stringify(value);
  if (key === "after") return JSON.stringify(value ?? []);
  if (typeof value === "boolean") return value ? 1 : 0;
  return value ?? null;
}

function parseError(json: string | null): WireError | null {
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
    cancelRequested: r.cancel_requested === 1,
    group: r.group_id,
    after: JSON.parse(r.after_json) as string[],
    forced: r.forced === 1,
    approval: approvalOf(r),
    plan: r.plan === 1,
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
    onFailure: r.on_failure === 1,
    pid: r.pid,
  };
}
