/**
 * Approvals in SQLite: each decision is a row of `approvals`, written in the same transaction as
 * the state change it causes (awaiting_approval -> queued once enough people approved, ->
 * cancelled on a deny or at the deadline), each a compare-and-set on the run's state, so two
 * approvers or two services racing change a run once.
 */
import { encode } from "./sqlite-rows.js";
import { toRun } from "./run-rows.js";
import { NOW } from "./sqlite-context.js";
import type { RunRow } from "./run-rows.js";
import type { SqliteContext } from "./sqlite-context.js";
import type { SqliteFeed } from "./sqlite-feed.js";
import type { SqliteRunLifecycle } from "./sqlite-run-lifecycle.js";
import { approversName } from "../pipeline/approval-text.js";
import type { WireError } from "../protocol.js";
import type { ApprovalDecision, ApprovalOutcome, ApprovalRecord, RunRecord } from "./run-store.js";

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

/** The approvals half of the SQLite RunStore. */
export class SqliteApprovals {
  private readonly db: SqliteContext["db"];
  private readonly stmt: SqliteContext["stmt"];
  private readonly guard: SqliteContext["guard"];

  constructor(
    context: SqliteContext,
    private readonly feed: SqliteFeed,
    private readonly lifecycle: SqliteRunLifecycle,
  ) {
    this.db = context.db;
    this.stmt = context.stmt;
    this.guard = context.guard;
  }

  async decideApproval(decision: ApprovalDecision): Promise<ApprovalOutcome> {
    return this.guard(
      "record an approval",
      this.db.transaction((): ApprovalOutcome => {
        const row = this.stmt(
          `SELECT *, approval_expires_at <= ${NOW} AS expired FROM runs WHERE id = ?`,
        ).get(decision.runId) as (RunRow & { expired: number | null }) | undefined;
        if (!row || row.state !== "awaiting_approval")
          return { outcome: "not-awaiting", run: row && toRun(row) };
        const run = toRun(row);
        if (row.expired === 1 || !run.approval) {
          this.expire(run);
          return { outcome: "not-awaiting", run: this.get(run.id) };
        }
        const { count } = run.approval;
        const inserted = this.stmt(
          `INSERT OR IGNORE INTO approvals (run_id, person, identity, verdict, reason, at) VALUES (?, ?, ?, ?, ?, ${NOW})`,
        ).run(decision.runId, decision.person, decision.identity, decision.verdict, decision.reason);
        const approvals = this.approvalCount(run.id);
        if (inserted.changes === 0) return { outcome: "already-approved", run, approvals };
        this.feed.appendUnfenced(run.id, {
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
          return { outcome: "denied", run: this.cancel(run.id, error) ?? run };
        }
        if (approvals < count) return { outcome: "recorded", run, approvals };
        const queued = this.stmt(
          `UPDATE runs SET state = 'queued' WHERE id = ? AND state = 'awaiting_approval' RETURNING *`,
        ).get(run.id) as RunRow | undefined;
        if (!queued) return { outcome: "not-awaiting", run: this.get(run.id) };
        this.lifecycle.appendRunEvent(run.id, "run-queued");
        return { outcome: "approved", run: toRun(queued), approvals };
      }).immediate,
    );
  }

  async listApprovals(runId: string): Promise<ApprovalRecord[]> {
    const rows = this.stmt(`SELECT * FROM approvals WHERE run_id = ? ORDER BY at, rowid`).all(
      runId,
    ) as ApprovalRow[];
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
    return this.guard(
      "expire approvals",
      this.db.transaction(() => {
        const due = (
          this.stmt(
            `SELECT * FROM runs WHERE state = 'awaiting_approval' AND approval_expires_at <= ${NOW}`,
          ).all() as RunRow[]
        ).map(toRun);
        return due.flatMap((run) => this.expire(run) ?? []);
      }).immediate,
    );
  }

  private expire(run: RunRecord): RunRecord | undefined {
    const { count = 1, role = "?" } = run.approval ?? {};
    return this.cancel(run.id, expiredError(count, role));
  }

  /** awaiting_approval -> cancelled, if it still is; appends run-finished. */
  private cancel(runId: string, error: WireError): RunRecord | undefined {
    const row = this.stmt(
      `UPDATE runs SET state = 'cancelled', finished_at = ${NOW}, error_json = ?
       WHERE id = ? AND state = 'awaiting_approval' RETURNING *`,
    ).get(encode("error", error), runId) as RunRow | undefined;
    if (row) this.lifecycle.appendRunEvent(runId, "run-finished");
    return row ? toRun(row) : undefined;
  }

  private approvalCount(runId: string): number {
    return (
      this.stmt(`SELECT count(*) AS n FROM approvals WHERE run_id = ? AND verdict = 'approve'`).get(
        runId,
      ) as {
        n: number;
      }
    ).n;
  }

  private get(runId: string): RunRecord | undefined {
    const row = this.stmt(`SELECT * FROM runs WHERE id = ?`).get(runId) as RunRow | undefined;
    return row ? toRun(row) : undefined;
  }
}
