/**
 * Approvals in PostgreSQL: each decision is a row of `approvals`, written in the same transaction
 * as the state change it causes (awaiting_approval -> queued once enough people approved, ->
 * cancelled on a deny or at the deadline). A decision locks the run's row first, so two approvers
 * racing are counted one after the other; every state change is a compare-and-set on the state,
 * so two services expiring at once cancel a run once.
 */
import { NOW } from "./postgres-context.js";
import { RUN_COLUMNS } from "./postgres-rows.js";
import { encodeError, toRun } from "./run-rows.js";
import { summarize } from "./run-summary.js";
import type { PostgresContext, Queryable } from "./postgres-context.js";
import type { PostgresFeed } from "./postgres-feed.js";
import type { RunRow } from "./run-rows.js";
import { approversName } from "../pipeline/approval-text.js";
import type { WireError } from "../protocol.js";
import type { ApprovalDecision, ApprovalOutcome, ApprovalRecord, RunRecord } from "./run-store.js";

/** Migration: what a run needs approved, and the decisions on it. */
export const APPROVALS_SCHEMA = `
ALTER TABLE runs ADD COLUMN approval_json TEXT, ADD COLUMN approval_expires_at BIGINT,
  ADD COLUMN plan BOOLEAN NOT NULL DEFAULT false;
-- A run awaiting approval holds its host too.
DROP INDEX runs_one_active_per_host;
CREATE UNIQUE INDEX runs_one_active_per_host ON runs(host)
  WHERE state IN ('awaiting_approval', 'queued', 'running');
CREATE INDEX runs_by_approval_deadline ON runs(approval_expires_at) WHERE state = 'awaiting_approval';
CREATE INDEX runs_by_created ON runs(created_at, id);
CREATE TABLE approvals (
  run_id TEXT NOT NULL, person TEXT NOT NULL, identity TEXT NOT NULL, verdict TEXT NOT NULL,
  reason TEXT NOT NULL, at BIGINT NOT NULL,
  -- Decisions in the same ms keep their order, as SQLite's rowid does.
  created_order BIGSERIAL NOT NULL,
  PRIMARY KEY (run_id, person, verdict)
);`;

interface ApprovalRow {
  run_id: string;
  person: string;
  identity: string;
  verdict: "approve" | "deny";
  reason: string;
  at: number;
}

/** The error an expired run ends with. */
function expiredError(count: number, role: string | null): WireError {
  return {
    name: "RunError",
    code: "E_RUN_APPROVAL_EXPIRED",
    message: `not approved in time (needed ${count} approval${count === 1 ? "" : "s"} from ${approversName(role)}); start it again to ask anew`,
  };
}

/** The approvals part of the PostgreSQL RunStore. */
export class PostgresApprovals {
  constructor(
    private readonly context: PostgresContext,
    private readonly feed: PostgresFeed,
  ) {}

  async decideApproval(decision: ApprovalDecision): Promise<ApprovalOutcome> {
    return this.context.tx("record an approval", async (client): Promise<ApprovalOutcome> => {
      const found = await client.query<RunRow & { expired: boolean | null }>(
        `SELECT ${RUN_COLUMNS}, approval_expires_at <= ${NOW} AS expired FROM runs WHERE id = $1 FOR UPDATE`,
        [decision.runId],
      );
      const row = found.rows[0];
      if (!row || row.state !== "awaiting_approval")
        return { outcome: "not-awaiting", run: row && toRun(row) };
      const run = toRun(row);
      if (row.expired === true || !run.approval) {
        await this.expire(client, run);
        return { outcome: "not-awaiting", run: await this.get(client, run.id) };
      }
      const { count } = run.approval;
      const inserted = await client.query(
        `INSERT INTO approvals (run_id, person, identity, verdict, reason, at) VALUES ($1, $2, $3, $4, $5, ${NOW})
         ON CONFLICT DO NOTHING`,
        [decision.runId, decision.person, decision.identity, decision.verdict, decision.reason],
      );
      const approvals = await this.approvalCount(client, run.id);
      if (inserted.rowCount === 0) return { outcome: "already-approved", run, approvals };
      await this.feed.appendUnfenced(client, run.id, {
        type: "run-approval",
        verdict: decision.verdict,
        by: decision.identity,
        reason: decision.reason,
        approvals,
        needed: count,
      });
      if (decision.verdict === "deny") {
        const error: WireError = {
          name: "RunError",
          code: "E_RUN_DENIED",
          message: `denied by ${decision.identity}${decision.reason ? `: ${decision.reason}` : ""}`,
        };
        return { outcome: "denied", run: (await this.cancel(client, run.id, error)) ?? run };
      }
      if (approvals < count) return { outcome: "recorded", run, approvals };
      const queued = (
        await client.query<RunRow>(
          `UPDATE runs SET state = 'queued' WHERE id = $1 AND state = 'awaiting_approval' RETURNING ${RUN_COLUMNS}`,
          [run.id],
        )
      ).rows[0];
      if (!queued) return { outcome: "not-awaiting", run: await this.get(client, run.id) };
      const record = toRun(queued);
      await this.feed.appendUnfenced(client, run.id, { type: "run-queued", run: summarize(record) });
      return { outcome: "approved", run: record, approvals };
    });
  }

  async listApprovals(runId: string): Promise<ApprovalRecord[]> {
    const rows = await this.context.rows<ApprovalRow>(
      "list a run's approvals",
      `SELECT * FROM approvals WHERE run_id = $1 ORDER BY at, created_order`,
      [runId],
    );
    return rows.map((r) => ({
      runId: r.run_id,
      person: r.person,
      identity: r.identity,
      verdict: r.verdict,
      reason: r.reason,
      at: r.at,
    }));
  }

  async expireApprovals(): Promise<RunRecord[]> {
    return this.context.tx("expire approvals", async (client) => {
      const due = await client.query<RunRow>(
        `SELECT ${RUN_COLUMNS} FROM runs WHERE state = 'awaiting_approval' AND approval_expires_at <= ${NOW}
         FOR UPDATE SKIP LOCKED`,
      );
      const expired: RunRecord[] = [];
      for (const row of due.rows) {
        const cancelled = await this.expire(client, toRun(row));
        if (cancelled) expired.push(cancelled);
      }
      return expired;
    });
  }

  private async expire(client: Queryable, run: RunRecord): Promise<RunRecord | undefined> {
    const { count = 1, role = "?" } = run.approval ?? {};
    return this.cancel(client, run.id, expiredError(count, role));
  }

  /** awaiting_approval -> cancelled, if it still is; appends run-finished. */
  private async cancel(client: Queryable, runId: string, error: WireError): Promise<RunRecord | undefined> {
    const row = (
      await client.query<RunRow>(
        `UPDATE runs SET state = 'cancelled', finished_at = ${NOW}, error_json = $2
         WHERE id = $1 AND state = 'awaiting_approval' RETURNING ${RUN_COLUMNS}`,
        [runId, encodeError(error)],
      )
    ).rows[0];
    if (!row) return undefined;
    const record = toRun(row);
    await this.feed.appendUnfenced(client, runId, { type: "run-finished", run: summarize(record) });
    return record;
  }

  private async approvalCount(client: Queryable, runId: string): Promise<number> {
    const rows = await client.query<{ n: number }>(
      `SELECT count(*) AS n FROM approvals WHERE run_id = $1 AND verdict = 'approve'`,
      [runId],
    );
    return rows.rows[0]?.n ?? 0;
  }

  private async get(client: Queryable, runId: string): Promise<RunRecord | undefined> {
    const row = (await client.query<RunRow>(`SELECT ${RUN_COLUMNS} FROM runs WHERE id = $1`, [runId]))
      .rows[0];
    return row ? toRun(row) : undefined;
  }
}
