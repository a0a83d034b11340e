/**
 * The PostgreSQL side of what the HTTP API asks of runs beyond the engine's needs: keyset pages of
 * runs under any filter, counts by state (metrics), deleting a finished run, and the audit trail
 * filtered. Each check-then-write is one statement or one transaction.
 */
import { RUN_COLUMNS } from "./postgres-rows.js";
import { toRun } from "./run-rows.js";
import type { RunRow } from "./run-rows.js";
import type { PostgresContext } from "./postgres-context.js";
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

/** Pages, counts, deletion and audit queries over the store's pool. */
export class PostgresRunPages {
  constructor(private readonly context: PostgresContext) {}

  async pageRuns(query: RunPageQuery): Promise<RunPage> {
    const where: string[] = [];
    const args: unknown[] = [];
    const param = (value: unknown): string => `$${args.push(value)}`;
    if (query.host !== undefined) where.push(`host = ${param(query.host)}`);
    if (query.group !== undefined) where.push(`group_id = ${param(query.group)}`);
    if (query.pipeline !== undefined) where.push(`pipeline = ${param(query.pipeline)}`);
    if (query.requestedBy !== undefined) where.push(`requested_by = ${param(query.requestedBy)}`);
    if (query.states?.length) where.push(`state = ANY(${param(query.states)}::text[])`);
    if (query.since !== undefined) where.push(`created_at >= ${param(query.since)}`);
    if (query.until !== undefined) where.push(`created_at < ${param(query.until)}`);
    if (query.after) {
      where.push(
        `(created_at, id) < (${param(query.after.createdAt)}::bigint, ${param(query.after.id)}::text)`,
      );
    }
    // One row more than asked tells whether another page follows, without counting.
    const rows = await this.context.rows<RunRow>(
      "list runs",
      `SELECT ${RUN_COLUMNS} FROM runs ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
       ORDER BY created_at DESC, id DESC LIMIT ${param(query.limit + 1)}`,
      args,
    );
    const runs = rows.slice(0, query.limit).map(toRun);
    const last = runs.at(-1);
    return {
      runs,
      next: rows.length > query.limit && last ? { createdAt: last.createdAt, id: last.id } : undefined,
    };
  }

  async countRunsByState(): Promise<Record<RunState, number>> {
    const rows = await this.context.rows<{ state: RunState; n: number }>(
      "count runs",
      `SELECT state, count(*) AS n FROM runs GROUP BY state`,
    );
    const counts = Object.fromEntries(RUN_STATES.map((s) => [s, 0])) as Record<RunState, number>;
    for (const row of rows) counts[row.state] = row.n;
    return counts;
  }

  async deleteFinishedRun(runId: string): Promise<RunDeletion> {
    return this.context.tx("delete a run", async (client): Promise<RunDeletion> => {
      const deleted = await client.query(
        `DELETE FROM runs WHERE id = $1 AND state IN ('succeeded', 'failed', 'cancelled') RETURNING id`,
        [runId],
      );
      if (deleted.rowCount === 0) {
        const row = (await client.query<RunRow>(`SELECT ${RUN_COLUMNS} FROM runs WHERE id = $1`, [runId]))
          .rows[0];
        return row ? { outcome: "not-finished", run: toRun(row) } : { outcome: "not-found" };
      }
      await client.query(`DELETE FROM steps WHERE run_id = $1`, [runId]);
      await client.query(`DELETE FROM snapshots WHERE run_id = $1`, [runId]);
      return { outcome: "deleted" };
    });
  }

  async queryAudit(query: AuditQuery): Promise<AuditEntry[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const param = (value: unknown): string => `$${args.push(value)}`;
    if (query.since !== undefined) where.push(`at >= ${param(query.since)}`);
    if (query.identity !== undefined) where.push(`identity = ${param(query.identity)}`);
    const rows = await this.context.rows<AuditRow>(
      "read the audit log",
      `SELECT * FROM audit ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC
       LIMIT ${param(query.limit)}`,
      args,
    );
    return rows.map(toAuditEntry);
  }
}

/** An `audit` row as an AuditEntry. */
function toAuditEntry(r: AuditRow): AuditEntry {
  return {
    at: r.at,
    identity: r.identity,
    network: r.network,
    room: r.room,
    command: r.command,
    decision: r.decision,
    reason: r.reason,
    runId: r.run_id,
  };
}
