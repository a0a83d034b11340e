/**
 * The default RunStore: one SQLite file (better-sqlite3), WAL mode so a foreground `jarvis run`
 * and the `jarvis start` service can share it. Calls are synchronous underneath and cheap, so the
 * async interface costs a microtask, not a thread hop.
 */
import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { newRunId } from "./ids.js";
import { RUN_COLUMNS, SCHEMA, STEP_COLUMNS, encode, migrate, toRun, toStep } from "./sqlite-rows.js";
import type { RunRow, StepRow } from "./sqlite-rows.js";
import { RunError, StoreError } from "../errors.js";
import type { AuditEntry, LogLine, NewRun, RunQuery, RunRecord, RunStore, StepRecord } from "./run-store.js";

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
