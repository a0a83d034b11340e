/**
 * The default RunStore: one SQLite file (better-sqlite3), WAL mode so a foreground `jarvis run`
 * and the `jarvis start` service can share it. Calls are synchronous underneath and cheap, so the
 * async interface costs a microtask, not a thread hop. Every check-then-write is one statement or
 * one transaction, and every lease time is computed in SQL, so the only clock is SQLite's.
 */
import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { newRunId } from "./ids.js";
import { SCHEMA, STEP_COLUMNS, encode, migrate, toRun, toStep } from "./sqlite-rows.js";
import { SqliteFeed } from "./sqlite-feed.js";
import { summarize } from "./run-summary.js";
import { RunError, StoreError } from "../errors.js";
import type { RunRow, StepRow } from "./sqlite-rows.js";
import type { RunEventBody, WireError } from "../protocol.js";
import type {
  AuditEntry,
  FeedQuery,
  FollowOptions,
  HeldLease,
  Lease,
  LogLine,
  NewRun,
  QueuedCancel,
  RetryRequest,
  RunEnding,
  RunQuery,
  RunRecord,
  RunStore,
  StepEventBody,
  StepRecord,
  StepWrite,
} from "./run-store.js";

/** The store's clock, in ms: evaluated inside each statement. */
const NOW = `CAST(unixepoch('subsec') * 1000 AS INTEGER)`;

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
  private readonly feed: SqliteFeed;

  constructor(private readonly db: Database.Database) {
    this.feed = new SqliteFeed(
      (sql) => this.stmt(sql),
      (what, fn) => this.guard(what, fn),
    );
  }

  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  async now(): Promise<number> {
    return (this.stmt(`SELECT ${NOW} AS now`).get() as { now: number }).now;
  }

  async createRun(run: NewRun): Promise<RunRecord> {
    const id = newRunId();
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
      const held = run.lease !== undefined;
      this.stmt(
        `INSERT INTO runs (id, host, pipeline, pipeline_json, state, step_index, total_steps, requested_by, origin, source,
          created_at, started_at, lease_owner, lease_expires_at, group_id, after_json, forced)
         VALUES (?, ?, ?, ?, ?, -1, ?, ?, ?, ?, ${NOW}, CASE WHEN ? THEN ${NOW} END, ?,
           CASE WHEN ? THEN ${NOW} + ? END, ?, ?, ?)`,
      ).run(
        id,
        run.host,
        run.pipeline,
        run.pipelineJson,
        held ? "running" : "queued",
        run.totalSteps,
        run.requestedBy,
        run.origin,
        run.source,
        held ? 1 : 0,
        run.lease?.owner ?? null,
        held ? 1 : 0,
        run.lease?.leaseMs ?? 0,
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
      this.appendRunEvent(id, "run-queued");
    });
    this.guard("create a run", insert);
    return this.mustGet(id);
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

  async claimableRuns(): Promise<RunRecord[]> {
    const rows = this.stmt(
      `SELECT * FROM runs WHERE (state = 'queued' AND (lease_owner IS NULL OR lease_expires_at < ${NOW}))
         OR (state = 'running' AND (lease_expires_at IS NULL OR lease_expires_at < ${NOW})) ORDER BY created_at`,
    ).all() as RunRow[];
    return rows.map(toRun);
  }

  async claim(runId: string, owner: string, leaseMs: number): Promise<RunRecord | undefined> {
    const row = this.guard("claim a run", () =>
      this.stmt(
        `UPDATE runs SET lease_owner = ?, lease_expires_at = ${NOW} + ?,
           state = CASE WHEN state = 'queued' THEN 'running' ELSE state END
         WHERE id = ? AND state IN ('queued', 'running')
           AND (lease_owner IS NULL OR lease_owner = ? OR lease_expires_at < ${NOW})
         RETURNING *`,
      ).get(owner, leaseMs, runId, owner),
    ) as RunRow | undefined;
    return row ? toRun(row) : undefined;
  }

  async renew(owner: string, runIds: string[], leaseMs: number): Promise<HeldLease[]> {
    if (runIds.length === 0) return [];
    const rows = this.guard("renew leases", () =>
      this.stmt(
        `UPDATE runs SET lease_expires_at = ${NOW} + ?
         WHERE lease_owner = ? AND state = 'running' AND id IN (SELECT value FROM json_each(?))
         RETURNING id, cancel_requested`,
      ).all(leaseMs, owner, JSON.stringify(runIds)),
    ) as { id: string; cancel_requested: number }[];
    return rows.map((r) => ({ runId: r.id, cancelRequested: r.cancel_requested === 1 }));
  }

  async release(lease: Lease): Promise<boolean> {
    const result = this.guard("release a lease", () =>
      this.stmt(
        `UPDATE runs SET lease_expires_at = 0 WHERE id = ? AND lease_owner = ? AND state = 'running'`,
      ).run(lease.runId, lease.owner),
    );
    return result.changes === 1;
  }

  async markStarted(lease: Lease): Promise<RunRecord | undefined> {
    return this.guard(
      "start a run",
      this.db.transaction(() => {
        const row = this.stmt(
          `UPDATE runs SET started_at = CASE WHEN step_index < 0 THEN ${NOW} ELSE COALESCE(started_at, ${NOW}) END
           WHERE id = ? AND lease_owner = ? AND state = 'running' RETURNING *`,
        ).get(lease.runId, lease.owner) as RunRow | undefined;
        if (row) this.appendRunEvent(row.id, "run-started");
        return row ? toRun(row) : undefined;
      }),
    );
  }

  async finishIfOwner(lease: Lease, ending: RunEnding): Promise<RunRecord | undefined> {
    return this.guard(
      "finish a run",
      this.db.transaction(() => {
        const row = this.stmt(
          `UPDATE runs SET state = ?, error_json = ?, finished_at = ${NOW}, lease_owner = NULL,
             lease_expires_at = NULL, cancel_requested = 0
           WHERE id = ? AND lease_owner = ? AND state = 'running' RETURNING *`,
        ).get(ending.state, encode("error", ending.error), lease.runId, lease.owner) as RunRow | undefined;
        if (row) this.appendRunEvent(row.id, "run-finished");
        return row ? toRun(row) : undefined;
      }),
    );
  }

  async cancelIfQueued(runId: string, error: WireError): Promise<QueuedCancel> {
    const row = this.guard(
      "cancel a queued run",
      this.db.transaction(() => {
        const cancelled = this.stmt(
          `UPDATE runs SET state = 'cancelled', finished_at = ${NOW}, error_json = ?, lease_owner = NULL,
             lease_expires_at = NULL
           WHERE id = ? AND state = 'queued' RETURNING *`,
        ).get(encode("error", error), runId) as RunRow | undefined;
        if (cancelled) this.appendRunEvent(runId, "run-finished");
        return cancelled;
      }),
    );
    if (row) return { outcome: "cancelled", run: toRun(row) };
    return { outcome: "not-queued", run: await this.getRun(runId) };
  }

  async requestCancel(runId: string): Promise<RunRecord | undefined> {
    return this.guard(
      "request a cancel",
      this.db.transaction(() => {
        const row = this.stmt(
          `UPDATE runs SET cancel_requested = 1 WHERE id = ? AND state = 'running' RETURNING *`,
        ).get(runId) as RunRow | undefined;
        if (row) this.feed.appendUnfenced(runId, { type: "run-cancel-requested" });
        return row ? toRun(row) : undefined;
      }),
    );
  }

  async retryRun(request: RetryRequest): Promise<RunRecord> {
    const { runId, from } = request;
    this.guard(
      "retry a run",
      this.db.transaction(() => {
        const run = this.stmt(`SELECT * FROM runs WHERE id = ?`).get(runId) as RunRow | undefined;
        if (!run) throw new RunError("E_RUN_NOT_FOUND", `no run ${runId}`);
        if (run.state !== "failed" && run.state !== "cancelled") {
          throw new RunError(
            "E_RUN_STATE",
            `run ${run.id} of ${run.host} is ${run.state}; only a failed or cancelled run can be retried`,
          );
        }
        const holder = this.stmt(
          `SELECT id, state FROM runs WHERE host = ? AND state IN ('queued', 'running')`,
        ).get(run.host) as { id: string; state: string } | undefined;
        if (holder) {
          throw new RunError(
            "E_HOST_BUSY",
            `${run.host} already has run ${holder.id} (${holder.state}); wait for it or cancel it first`,
          );
        }
        this.stmt(`DELETE FROM steps WHERE run_id = ? AND idx >= ?`).run(runId, from);
        this.stmt(`DELETE FROM snapshots WHERE run_id = ? AND idx >= ? AND phase = 'output'`).run(
          runId,
          from,
        );
        const add = this.stmt(
          `INSERT INTO steps (run_id, idx, name, state, on_failure) VALUES (?, ?, ?, 'pending', ?)`,
        );
        request.steps.forEach((s, i) => add.run(runId, from + i, s.name, s.onFailure ? 1 : 0));
        if (request.clipboardYaml !== undefined) {
          this.stmt(
            `INSERT OR REPLACE INTO snapshots (run_id, idx, phase, yaml) VALUES (?, ?, 'input', ?)`,
          ).run(runId, from, request.clipboardYaml);
        }
        const held = request.lease !== undefined;
        this.stmt(
          `UPDATE runs SET state = ?, error_json = NULL, finished_at = NULL, cancel_requested = 0,
             requested_by = ?, origin = ?, forced = ?, lease_owner = ?,
             lease_expires_at = CASE WHEN ? THEN ${NOW} + ? END
           WHERE id = ? AND state IN ('failed', 'cancelled')`,
        ).run(
          held ? "running" : "queued",
          request.requestedBy,
          request.origin,
          request.forced ? 1 : 0,
          request.lease?.owner ?? null,
          held ? 1 : 0,
          request.lease?.leaseMs ?? 0,
          runId,
        );
        this.appendRunEvent(runId, "run-queued");
      }),
    );
    return this.mustGet(runId);
  }

  async listSteps(runId: string): Promise<StepRecord[]> {
    return (this.stmt(`SELECT * FROM steps WHERE run_id = ? ORDER BY idx`).all(runId) as StepRow[]).map(
      toStep,
    );
  }

  async writeStep(lease: Lease, index: number, write: StepWrite): Promise<boolean> {
    const sets: string[] = [];
    const args: unknown[] = [];
    for (const [key, value] of Object.entries(write.patch)) {
      sets.push(`${STEP_COLUMNS[key as keyof typeof STEP_COLUMNS]} = ?`);
      args.push(encode(key, value));
    }
    return this.guard(
      "record a step",
      this.db.transaction(() => {
        if (!this.holds(lease)) return false;
        if (sets.length > 0) {
          this.stmt(`UPDATE steps SET ${sets.join(", ")} WHERE run_id = ? AND idx = ?`).run(
            ...args,
            lease.runId,
            index,
          );
        }
        if (write.moveRun) {
          this.stmt(
            `UPDATE runs SET step_index = ?, step_name = (SELECT name FROM steps WHERE run_id = runs.id AND idx = ?)
             WHERE id = ?`,
          ).run(index, index, lease.runId);
        }
        if (write.output !== undefined) {
          this.stmt(
            `INSERT OR REPLACE INTO snapshots (run_id, idx, phase, yaml) VALUES (?, ?, 'output', ?)`,
          ).run(lease.runId, index, write.output);
        }
        if (write.event) this.feed.appendFenced(lease, write.event);
        return true;
      }),
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

  async appendLog(
    lease: Lease,
    line: Omit<Extract<RunEventBody, { type: "step-log" }>, "type">,
  ): Promise<boolean> {
    return this.appendEvent(lease, { type: "step-log", ...line });
  }

  async appendEvent(lease: Lease, event: StepEventBody): Promise<boolean> {
    return this.guard("append to the run's feed", () => this.feed.appendFenced(lease, event));
  }

  async readLog(runId: string): Promise<LogLine[]> {
    return this.feed.readLog(runId);
  }

  async latestSeq(): Promise<number> {
    return this.feed.latestSeq();
  }

  async readEvents(afterSeq: number, query: FeedQuery = {}) {
    return this.feed.read(afterSeq, query);
  }

  follow(afterSeq: number, options: FollowOptions) {
    return this.feed.follow(afterSeq, options);
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

  private holds(lease: Lease): boolean {
    return (
      this.stmt(`SELECT 1 FROM runs WHERE id = ? AND lease_owner = ? AND state = 'running'`).get(
        lease.runId,
        lease.owner,
      ) !== undefined
    );
  }

  /** Append a run-level event carrying the run's summary as it stands in this transaction. */
  private appendRunEvent(runId: string, type: "run-queued" | "run-started" | "run-finished"): void {
    const row = this.stmt(`SELECT * FROM runs WHERE id = ?`).get(runId) as RunRow;
    this.feed.appendUnfenced(runId, { type, run: summarize(toRun(row)) });
  }

  private async mustGet(id: string): Promise<RunRecord> {
    const run = await this.getRun(id);
    if (!run) throw new StoreError("E_STORE_LOST", `run ${id} vanished from the store`);
    return run;
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
