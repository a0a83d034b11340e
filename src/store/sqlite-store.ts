/**
 * The default RunStore: one SQLite file (better-sqlite3), WAL mode so a foreground `jarvis run`
 * and the `jarvis start` service can share it. Calls are synchronous underneath and cheap, so the
 * async interface costs a microtask, not a thread hop.
 */
import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { newRunId } from "./ids.js";
import { RunError, StoreError } from "../errors.js";
import type { WireError } from "../protocol.js";
import type { AuditEntry, LogLine, NewRun, RunQuery, RunRecord, RunStore, StepRecord } from "./run-store.js";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY, host TEXT NOT NULL, pipeline TEXT NOT NULL, pipeline_json TEXT NOT NULL,
  state TEXT NOT NULL, step_index INTEGER NOT NULL, total_steps INTEGER NOT NULL,
  requested_by TEXT NOT NULL, origin TEXT NOT NULL, source TEXT NOT NULL,
  created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER, error_json TEXT,
  lease_owner TEXT, lease_expires_at INTEGER, cancel_requested INTEGER NOT NULL DEFAULT 0,
  group_id TEXT, after_json TEXT NOT NULL DEFAULT '[]', forced INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS runs_one_active_per_host ON runs(host) WHERE state IN ('queued', 'running');
CREATE INDEX IF NOT EXISTS runs_by_host ON runs(host, created_at);
CREATE INDEX IF NOT EXISTS runs_by_state ON runs(state);
CREATE TABLE IF NOT EXISTS steps (
  run_id TEXT NOT NULL, idx INTEGER NOT NULL, name TEXT NOT NULL, state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, started_at INTEGER, finished_at INTEGER, duration_ms INTEGER,
  error_json TEXT, on_failure INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (run_id, idx)
);
CREATE TABLE IF NOT EXISTS snapshots (
  run_id TEXT NOT NULL, idx INTEGER NOT NULL, phase TEXT NOT NULL, yaml TEXT NOT NULL,
  PRIMARY KEY (run_id, idx, phase)
);
CREATE TABLE IF NOT EXISTS logs (
  id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, step_index INTEGER NOT NULL,
  attempt INTEGER NOT NULL, at INTEGER NOT NULL, stream TEXT NOT NULL, line TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_by_run ON logs(run_id, id);
CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, identity TEXT NOT NULL,
  network TEXT NOT NULL, room TEXT NOT NULL, command TEXT NOT NULL, decision TEXT NOT NULL,
  reason TEXT NOT NULL, run_id TEXT
);
`;

interface RunRow {
  id: string;
  host: string;
  pipeline: string;
  pipeline_json: string;
  state: RunRecord["state"];
  step_index: number;
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
}

interface StepRow {
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
}

const RUN_COLUMNS: Record<keyof Omit<RunRecord, "id">, string> = {
  host: "host",
  pipeline: "pipeline",
  pipelineJson: "pipeline_json",
  state: "state",
  stepIndex: "step_index",
  totalSteps: "total_steps",
  requestedBy: "requested_by",
  origin: "origin",
  source: "source",
  createdAt: "created_at",
  startedAt: "started_at",
  finishedAt: "finished_at",
  error: "error_json",
  leaseOwner: "lease_owner",
  leaseExpiresAt: "lease_expires_at",
  cancelRequested: "cancel_requested",
  group: "group_id",
  after: "after_json",
  forced: "forced",
};

const STEP_COLUMNS: Record<keyof Omit<StepRecord, "runId" | "index">, string> = {
  name: "name",
  state: "state",
  attempts: "attempts",
  startedAt: "started_at",
  finishedAt: "finished_at",
  durationMs: "duration_ms",
  error: "error_json",
  onFailure: "on_failure",
};

/** Open (creating if needed) the SQLite run store at `path` (":memory:" for tests). */
export function openSqliteStore(path: string): RunStore {
  let db: Database.Database;
  try {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    db = new Database(path);
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma("busy_timeout = 10000");
    db.exec(SCHEMA);
    migrate(db);
  } catch (err) {
    throw new StoreError(
      "E_STORE_OPEN",
      `cannot open the run store ${path}: ${(err as Error).message}; check store.path in jarvis.yml`,
      { cause: err },
    );
  }
  return new SqliteStore(db);
}

/** Bring a store made by an older jarvis up to date, in place (columns are only ever added). */
function migrate(db: Database.Database): void {
  const columns = new Set(
    (db.prepare(`PRAGMA table_info(runs)`).all() as { name: string }[]).map((c) => c.name),
  );
  if (!columns.has("group_id")) db.exec(`ALTER TABLE runs ADD COLUMN group_id TEXT`);
  if (!columns.has("after_json"))
    db.exec(`ALTER TABLE runs ADD COLUMN after_json TEXT NOT NULL DEFAULT '[]'`);
  if (!columns.has("forced")) db.exec(`ALTER TABLE runs ADD COLUMN forced INTEGER NOT NULL DEFAULT 0`);
  db.exec(`CREATE INDEX IF NOT EXISTS runs_by_group ON runs(group_id)`);
}

class SqliteStore implements RunStore {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  async createRun(run: NewRun): Promise<RunRecord> {
    const id = newRunId();
    const now = Date.now();
    const insert = this.db.transaction(() => {
      const holder = this.stmt(
        `SELECT id, state FROM runs WHERE host = ? AND state IN ('queued', 'running')`,
      ).get(run.host) as { id: string; state: string } | undefined;
      if (holder) {
        throw new RunError(
          "E_HOST_BUSY",
          `${run.host} already has run ${holder.id} (${holder.state}); wait for it, or cancel it with: cancel ${holder.id}`,
        );
      }
      const leased = run.leaseOwner !== undefined;
      this.stmt(
        `INSERT INTO runs (id, host, pipeline, pipeline_json, state, step_index, total_steps, requested_by, origin, source,
          created_at, started_at, lease_owner, lease_expires_at, group_id, after_json, forced)
         VALUES (?, ?, ?, ?, ?, -1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        id,
        run.host,
        run.pipeline,
        run.pipelineJson,
        leased ? "running" : "queued",
        run.totalSteps,
        run.requestedBy,
        run.origin,
        run.source,
        now,
        leased ? now : null,
        run.leaseOwner ?? null,
        leased ? now + (run.leaseMs ?? 30_000) : null,
        run.group ?? null,
        JSON.stringify(run.after ?? []),
        run.forced ? 1 : 0,
      );
      const addStep = this.stmt(
        `INSERT INTO steps (run_id, idx, name, state, on_failure) VALUES (?, ?, ?, 'pending', ?)`,
      );
      // Names past the pipeline's own steps are its on_failure steps.
      run.stepNames.forEach((name, idx) => addStep.run(id, idx, name, idx >= run.totalSteps ? 1 : 0));
      this.stmt(`INSERT INTO snapshots (run_id, idx, phase, yaml) VALUES (?, 0, 'input', ?)`).run(
        id,
        run.clipboardYaml,
      );
    });
    this.guard("create a run", insert);
    const created = await this.getRun(id);
    if (!created) throw new StoreError("E_STORE_LOST", `run ${id} vanished right after it was created`);
    return created;
  }

  async getRun(id: string): Promise<RunRecord | undefined> {
    const row = this.stmt(`SELECT * FROM runs WHERE id = ?`).get(id) as RunRow | undefined;
    return row ? toRun(row) : undefined;
  }

  async listRuns(query: RunQuery): Promise<RunRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (query.host !== undefined) {
      where.push("host = ?");
      args.push(query.host);
    }
    if (query.group !== undefined) {
      where.push("group_id = ?");
      args.push(query.group);
    }
    if (query.states?.length) {
      where.push(`state IN (${query.states.map(() => "?").join(", ")})`);
      args.push(...query.states);
    }
    const sql = `SELECT * FROM runs ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY created_at DESC, rowid DESC LIMIT ?`;
    return (this.stmt(sql).all(...args, query.limit ?? 1000) as RunRow[]).map(toRun);
  }

  async updateRun(id: string, patch: Partial<Omit<RunRecord, "id">>): Promise<void> {
    const sets: string[] = [];
    const args: unknown[] = [];
    for (const [key, value] of Object.entries(patch)) {
      const column = RUN_COLUMNS[key as keyof typeof RUN_COLUMNS];
      if (!column) continue;
      sets.push(`${column} = ?`);
      args.push(encode(key, value));
    }
    if (sets.length === 0) return;
    this.guard("update a run", () =>
      this.stmt(`UPDATE runs SET ${sets.join(", ")} WHERE id = ?`).run(...args, id),
    );
  }

  async claimRun(id: string, owner: string, leaseMs: number): Promise<boolean> {
    const now = Date.now();
    const result = this.guard("claim a run", () =>
      this.stmt(
        `UPDATE runs SET lease_owner = ?, lease_expires_at = ?, state = CASE WHEN state = 'queued' THEN 'running' ELSE state END,
           started_at = COALESCE(started_at, ?)
         WHERE id = ? AND state IN ('queued', 'running')
           AND (lease_owner IS NULL OR lease_owner = ? OR lease_expires_at < ?)`,
      ).run(owner, now + leaseMs, now, id, owner, now),
    );
    return result.changes === 1;
  }

  async renewLeases(owner: string, leaseMs: number): Promise<number> {
    const result = this.guard("renew leases", () =>
      this.stmt(
        `UPDATE runs SET lease_expires_at = ? WHERE lease_owner = ? AND state IN ('queued', 'running')`,
      ).run(Date.now() + leaseMs, owner),
    );
    return result.changes;
  }

  async claimableRuns(now: number): Promise<RunRecord[]> {
    const rows = this.stmt(
      `SELECT * FROM runs WHERE (state = 'queued' AND (lease_owner IS NULL OR lease_expires_at < ?))
         OR (state = 'running' AND (lease_expires_at IS NULL OR lease_expires_at < ?)) ORDER BY created_at`,
    ).all(now, now) as RunRow[];
    return rows.map(toRun);
  }

  async resetSteps(
    runId: string,
    from: number,
    names: { name: string; onFailure: boolean }[],
  ): Promise<void> {
    this.guard(
      "reset steps",
      this.db.transaction(() => {
        this.stmt(`DELETE FROM steps WHERE run_id = ? AND idx >= ?`).run(runId, from);
        this.stmt(`DELETE FROM snapshots WHERE run_id = ? AND idx >= ? AND phase = 'output'`).run(
          runId,
          from,
        );
        const add = this.stmt(
          `INSERT INTO steps (run_id, idx, name, state, on_failure) VALUES (?, ?, ?, 'pending', ?)`,
        );
        names.forEach((s, i) => add.run(runId, from + i, s.name, s.onFailure ? 1 : 0));
      }),
    );
  }

  async listSteps(runId: string): Promise<StepRecord[]> {
    return (this.stmt(`SELECT * FROM steps WHERE run_id = ? ORDER BY idx`).all(runId) as StepRow[]).map(
      toStep,
    );
  }

  async updateStep(
    runId: string,
    index: number,
    patch: Partial<Omit<StepRecord, "runId" | "index">>,
  ): Promise<void> {
    const sets: string[] = [];
    const args: unknown[] = [];
    for (const [key, value] of Object.entries(patch)) {
      const column = STEP_COLUMNS[key as keyof typeof STEP_COLUMNS];
      if (!column) continue;
      sets.push(`${column} = ?`);
      args.push(encode(key, value));
    }
    if (sets.length === 0) return;
    this.guard("update a step", () =>
      this.stmt(`UPDATE steps SET ${sets.join(", ")} WHERE run_id = ? AND idx = ?`).run(
        ...args,
        runId,
        index,
      ),
    );
  }

  async saveSnapshot(runId: string, index: number, phase: "input" | "output", yaml: string): Promise<void> {
    this.guard("save a clipboard", () =>
      this.stmt(`INSERT OR REPLACE INTO snapshots (run_id, idx, phase, yaml) VALUES (?, ?, ?, ?)`).run(
        runId,
        index,
        phase,
        yaml,
      ),
    );
  }

  async getSnapshot(runId: string, index: number, phase: "input" | "output"): Promise<string | undefined> {
    // A step's input is the newest clipboard before it: an operator's edit at this index, else the
    // output of the nearest earlier step that wrote one (skipped steps write none).
    const sql =
      phase === "input"
        ? `SELECT yaml FROM snapshots WHERE run_id = ? AND ((idx = ? AND phase = 'input') OR (idx < ?))
             ORDER BY idx DESC, phase = 'output' DESC LIMIT 1`
        : `SELECT yaml FROM snapshots WHERE run_id = ? AND ((idx = ?) OR (idx < ?))
             ORDER BY idx DESC, phase = 'output' DESC LIMIT 1`;
    const row = this.stmt(sql).get(runId, index, index) as { yaml: string } | undefined;
    return row?.yaml;
  }

  async appendLog(line: Omit<LogLine, "id">): Promise<void> {
    this.guard("append to the log", () =>
      this.stmt(
        `INSERT INTO logs (run_id, step_index, attempt, at, stream, line) VALUES (?, ?, ?, ?, ?, ?)`,
      ).run(line.runId, line.stepIndex, line.attempt, line.at, line.stream, line.line),
    );
  }

  async readLog(runId: string, afterId = 0): Promise<LogLine[]> {
    const rows = this.stmt(`SELECT * FROM logs WHERE run_id = ? AND id > ? ORDER BY id`).all(
      runId,
      afterId,
    ) as {
      id: number;
      run_id: string;
      step_index: number;
      attempt: number;
      at: number;
      stream: LogLine["stream"];
      line: string;
    }[];
    return rows.map((r) => ({
      id: r.id,
      runId: r.run_id,
      stepIndex: r.step_index,
      attempt: r.attempt,
      at: r.at,
      stream: r.stream,
      line: r.line,
    }));
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    this.guard("write the audit log", () =>
      this.stmt(
        `INSERT INTO audit (at, identity, network, room, command, decision, reason, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        entry.at,
        entry.identity,
        entry.network,
        entry.room,
        entry.command,
        entry.decision,
        entry.reason,
        entry.runId,
      ),
    );
  }

  async listAudit(limit: number): Promise<AuditEntry[]> {
    const rows = this.stmt(`SELECT * FROM audit ORDER BY id DESC LIMIT ?`).all(limit) as (AuditEntry & {
      run_id: string | null;
    })[];
    return rows.map((r) => ({
      at: r.at,
      identity: r.identity,
      network: r.network,
      room: r.room,
      command: r.command,
      decision: r.decision,
      reason: r.reason,
      runId: r.run_id,
    }));
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  private guard<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof RunError || err instanceof StoreError) throw err;
      throw new StoreError("E_STORE_IO", `run store failed to ${what}: ${(err as Error).message}`, {
        cause: err,
        retryable: true,
      });
    }
  }
}

function encode(key: string, value: unknown): unknown {
  if (key === "error") return value === null || value === undefined ? null : JSON.stringify(value);
  if (key === "after") return JSON.stringify(value ?? []);
  if (typeof value === "boolean") return value ? 1 : 0;
  return value ?? null;
}

function parseError(json: string | null): WireError | null {
  return json ? (JSON.parse(json) as WireError) : null;
}

function toRun(r: RunRow): RunRecord {
  return {
    id: r.id,
    host: r.host,
    pipeline: r.pipeline,
    pipelineJson: r.pipeline_json,
    state: r.state,
    stepIndex: r.step_index,
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
  };
}

function toStep(r: StepRow): StepRecord {
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
  };
}
