/**
 * How runs and steps are laid out in SQLite: the schema, its in-place migrations, and how a
 * record's field is stored (the mapping of rows to records is run-rows.ts, shared with PostgreSQL).
 */
import type Database from "better-sqlite3";
import { HOST_HOLDING_STATES } from "./run-rows.js";

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
