/**
 * The SQLite side of what the HTTP API asks of runs beyond the engine's needs: keyset pages of
 * runs under any filter, counts by state (metrics), deleting a finished run, and the audit trail
 * filtered. Each check-then-write is one statement or one transaction.
 */
import { toRun } from "./run-rows.js";
import type { RunRow } from "./run-rows.js";
import type { SqliteContext } from "./sqlite-context.js";
import type { RunState } from "../protocol.js";
import type { AuditEntry, AuditQuery, RunDeletion, RunPage, RunPageQuery } from "./run-store.js";

const RUN_STATES: readonly RunState[] = ["queued", "running", "succeeded", "failed", "cancelled"];

interface AuditRow {
  at: number;
  identity: string;
  network: string;
  room: string;
  command: string;
  decision: AuditEntry["decision"];
  reason: string;
  run_id: string | null;
}

/** Pages, counts, deletion and audit queries over the store's connection. */
export class SqliteRunPages {
  private readonly deleteTx: (runId: string) => RunDeletion;

  constructor(private readonly context: SqliteContext) {
    this.deleteTx = context.db.transaction((runId: string) => this.deleteInTx(runId)).immediate;
  }

  pageRuns(query: RunPageQuery): RunPage {
    const where: string[] = [];
    const args: unknown[] = [];
    const add = (clause: string, ...values: unknown[]): void => {
      where.push(clause);
      args.push(...values);
    };
    if (query.host !== undefined) add("host = ?", query.host);
    if (query.group !== undefined) add("group_id = ?", query.group);
    if (query.pipeline !== undefined) add("pipeline = ?", query.pipeline);
    if (query.requestedBy !== undefined) add("requested_by = ?", query.requestedBy);
    if (query.states?.length) add(`state IN (${query.states.map(() => "?").join(", ")})`, ...query.states);
    if (query.since !== undefined) add("created_at >= ?", query.since);
    if (query.until !== undefined) add("created_at < ?", query.until);
    if (query.after) add("(created_at < ? OR (created_at = ? AND id < ?))", ...cursorArgs(query.after));
    // One row more than asked tells whether another page follows, without counting.
    const sql = `SELECT * FROM runs ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY created_at DESC, id DESC LIMIT ?`;
    const rows = this.context.guard(
      "list runs",
      () => this.context.stmt(sql).all(...args, query.limit + 1) as RunRow[],
    );
    const runs = rows.slice(0, query.limit).map(toRun);
    const last = runs.at(-1);
    return {
      runs,
      next: rows.length > query.limit && last ? { createdAt: last.createdAt, id: last.id } : undefined,
    };
  }

  countRunsByState(): Record<RunState, number> {
    const rows = this.context.stmt(`SELECT state, count(*) AS n FROM runs GROUP BY state`).all() as {
      state: RunState;
      n: number;
    }[];
    const counts = Object.fromEntries(RUN_STATES.map((s) => [s, 0])) as Record<RunState, number>;
    for (const row of rows) counts[row.state] = row.n;
    return counts;
  }

  deleteFinishedRun(runId: string): RunDeletion {
    return this.context.guard("delete a run", () => this.deleteTx(runId));
  }

  queryAudit(query: AuditQuery): AuditEntry[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (query.since !== undefined) {
      where.push("at >= ?");
      args.push(query.since);
    }
    if (query.identity !== undefined) {
      where.push("identity = ?");
      args.push(query.identity);
    }
    const sql = `SELECT * FROM audit ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT ?`;
    const rows = this.context.stmt(sql).all(...args, query.limit) as AuditRow[];
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

  private deleteInTx(runId: string): RunDeletion {
    const { stmt } = this.context;
    const deleted = stmt(
      `DELETE FROM runs WHERE id = ? AND state IN ('succeeded', 'failed', 'cancelled')`,
    ).run(runId).changes;
    if (deleted === 0) {
      const row = stmt(`SELECT * FROM runs WHERE id = ?`).get(runId) as RunRow | undefined;
      return row ? { outcome: "not-finished", run: toRun(row) } : { outcome: "not-found" };
    }
    stmt(`DELETE FROM steps WHERE run_id = ?`).run(runId);
    stmt(`DELETE FROM snapshots WHERE run_id = ?`).run(runId);
    return { outcome: "deleted" };
  }
}

function cursorArgs(cursor: { createdAt: number; id: string }): unknown[] {
  return [cursor.createdAt, cursor.createdAt, cursor.id];
}
