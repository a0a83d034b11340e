/**
 * The PostgreSQL schema as numbered migrations, applied in order at start. A `schema_migrations`
 * table records which ran; a transaction-scoped advisory lock makes replicas that start at the
 * same moment apply each migration once (the second waits, then finds it done).
 */
import type pg from "pg";
import { APPROVALS_SCHEMA } from "./postgres-approvals.js";
import { HOST_INDEX_SCHEMA } from "./postgres-host-index.js";
import { SCHEDULES_SCHEMA } from "./postgres-schedules.js";
import { NODE_EVENTS_SCHEMA } from "./postgres-node-events.js";
import { POSTGRES_NODES_SCHEMA } from "../nodes/postgres-node-store.js";
import { POSTGRES_JOBS_SCHEMA } from "../jobs/postgres-job-store.js";
import { POSTGRES_JOB_CONTROL_SCHEMA } from "../jobs/postgres-job-control.js";

/** Arbitrary, fixed: the advisory lock key every jarvis takes while migrating. */
const MIGRATION_LOCK = 4_242_001;

/** One step of the schema; never edited once released, only followed by new ones. */
interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "runs, steps, snapshots, the event feed and audit",
    sql: `
CREATE TABLE runs (
  id TEXT PRIMARY KEY, host TEXT NOT NULL, pipeline TEXT NOT NULL, pipeline_json TEXT NOT NULL,
  state TEXT NOT NULL, step_index INTEGER NOT NULL, step_name TEXT, total_steps INTEGER NOT NULL,
  requested_by TEXT NOT NULL, origin TEXT NOT NULL, source TEXT NOT NULL,
  created_at BIGINT NOT NULL, started_at BIGINT, finished_at BIGINT, error_json TEXT,
  lease_owner TEXT, lease_expires_at BIGINT, cancel_requested BOOLEAN NOT NULL DEFAULT false,
  group_id TEXT, after_json TEXT NOT NULL DEFAULT '[]', forced BOOLEAN NOT NULL DEFAULT false,
  -- Ties of created_at (same ms) keep their insertion order, as SQLite's rowid does.
  created_order BIGSERIAL NOT NULL
);
CREATE UNIQUE INDEX runs_one_active_per_host ON runs(host) WHERE state IN ('queued', 'running');
CREATE INDEX runs_by_host ON runs(host, created_at);
CREATE INDEX runs_by_state ON runs(state);
CREATE INDEX runs_by_group ON runs(group_id);
CREATE TABLE steps (
  run_id TEXT NOT NULL, idx INTEGER NOT NULL, name TEXT NOT NULL,
  state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, started_at BIGINT, finished_at BIGINT,
  duration_ms BIGINT, error_json TEXT, on_failure BOOLEAN NOT NULL DEFAULT false, pid INTEGER,
  PRIMARY KEY (run_id, idx)
);
CREATE TABLE snapshots (
  run_id TEXT NOT NULL, idx INTEGER NOT NULL, phase TEXT NOT NULL,
  yaml TEXT NOT NULL, PRIMARY KEY (run_id, idx, phase)
);
-- The feed's sequence is a counter row, not a SEQUENCE: nextval() hands numbers out in call
-- order, not commit order, so a follower reading "after N" could pass N-1 committed late. The
-- row lock on the counter orders appends by commit.
CREATE TABLE feed_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL);
INSERT INTO feed_head VALUES (1, 0);
CREATE TABLE events (
  seq BIGINT PRIMARY KEY, run_id TEXT NOT NULL, at BIGINT NOT NULL, host TEXT NOT NULL,
  origin TEXT NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL
);
CREATE INDEX events_by_run ON events(run_id, seq);
CREATE TABLE audit (
  id BIGSERIAL PRIMARY KEY, at BIGINT NOT NULL, identity TEXT NOT NULL, network TEXT NOT NULL,
  room TEXT NOT NULL, command TEXT NOT NULL, decision TEXT NOT NULL, reason TEXT NOT NULL,
  run_id TEXT
);`,
  },
  {
    version: 2,
    name: "approvals, plan runs, and runs awaiting approval holding their host",
    sql: APPROVALS_SCHEMA,
  },
  { version: 3, name: "the per-host index, kept by triggers on runs", sql: HOST_INDEX_SCHEMA },
  { version: 4, name: "durable schedules and their occurrences", sql: SCHEDULES_SCHEMA },
  { version: 5, name: "agents' events and the rules' last firings", sql: NODE_EVENTS_SCHEMA },
  {
    version: 6,
    name: "plan-then-apply: a plan run's pending approval, an apply run's plan run",
    sql: `ALTER TABLE runs ADD COLUMN apply_approval_json TEXT, ADD COLUMN plan_run TEXT;`,
  },
  {
    version: 7,
    name: "the agents' nodes with their facts' history; jobs with their nodes and events",
    sql: POSTGRES_NODES_SCHEMA + POSTGRES_JOBS_SCHEMA,
  },
  {
    version: 8,
    name: "rules' trailing firings: the event held until a firing's debounce ends",
    sql: `ALTER TABLE rule_firings ADD COLUMN held_event_id TEXT;`,
  },
  {
    version: 9,
    name: "the lease of the replica that drives the jobs",
    sql: POSTGRES_JOB_CONTROL_SCHEMA,
  },
];

/** Apply every migration this database has not had yet; the versions applied now. */
export async function migrate(pool: pg.Pool): Promise<number[]> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
    await client.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,
         applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`,
    );
    const done = new Set(
      (await client.query<{ version: number }>("SELECT version FROM schema_migrations")).rows.map(
        (r) => r.version,
      ),
    );
    const applied: number[] = [];
    for (const migration of MIGRATIONS) {
      if (done.has(migration.version)) continue;
      await client.query(migration.sql);
      await client.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [
        migration.version,
        migration.name,
      ]);
      applied.push(migration.version);
    }
    await client.query("COMMIT");
    return applied;
  } catch (err) {
    await client.query("ROLLBACK").catch((rollbackErr: unknown) => {
      broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
    });
    throw err;
  } finally {
    client.release(broken);
  }
}
