/**
 * A run's life in SQLite: created queued or held, claimed, its lease renewed and released,
 * started, finished, cancelled, retried. Each operation that assumes a state checks it in the
 * same statement or transaction that writes (compare-and-set), and appends its feed event there.
 */
import { newRunId } from "./ids.js";
import { encode } from "./sqlite-rows.js";
import { HOST_HOLDING_STATES, toRun } from "./run-rows.js";
import { summarize } from "./run-summary.js";
import { NOW } from "./sqlite-context.js";
import { RunError, StoreError } from "../errors.js";
import type { RunRow } from "./run-rows.js";
import type { SqliteContext } from "./sqlite-context.js";
import type { SqliteFeed } from "./sqlite-feed.js";
import type { WireError } from "../protocol.js";
import type {
  HeldLease,
  Lease,
  NewRun,
  QueuedCancel,
  RetryRequest,
  RunEnding,
  RunRecord,
} from "./run-store.js";

/** The lifecycle half of the SQLite RunStore. */
export class SqliteRunLifecycle {
  private readonly db: SqliteContext["db"];
  private readonly stmt: SqliteContext["stmt"];
  private readonly guard: SqliteContext["guard"];

  constructor(
    context: SqliteContext,
    private readonly feed: SqliteFeed,
  ) {
    this.db = context.db;
    this.stmt = context.stmt;
    this.guard = context.guard;
  }

  async createRun(run: NewRun): Promise<RunRecord> {
    const id = newRunId();
    this.guard("create a run", this.db.transaction(() => this.insertRun(id, run)).immediate);
    return this.mustGet(id);
  }

  async finishPlanForApproval(lease: Lease): Promise<{ plan: RunRecord; apply: RunRecord } | undefined> {
    return this.guard(
      "hand a plan over for approval",
      this.db.transaction(() => {
        const current = this.stmt(`SELECT * FROM runs WHERE id = ?`).get(lease.runId) as RunRow | undefined;
        const planned = current && toRun(current);
        if (planned && (!planned.plan || !planned.applyApproval)) {
          throw new RunError("E_RUN_STATE", `run ${planned.id} is no plan-then-apply; nothing to hand over`);
        }
        const row = this.stmt(
          `UPDATE runs SET state = 'succeeded', error_json = NULL, finished_at = ${NOW}, lease_owner = NULL,
             lease_expires_at = NULL, cancel_requested = 0
           WHERE id = ? AND lease_owner = ? AND state = 'running' RETURNING *`,
        ).get(lease.runId, lease.owner) as RunRow | undefined;
        if (!row || !planned?.applyApproval) return undefined;
        this.appendRunEvent(row.id, "run-finished");
        const design = this.stmt(
          `SELECT yaml FROM snapshots WHERE run_id = ? AND idx = 0 AND phase = 'input'`,
        ).get(row.id) as { yaml: string } | undefined;
        const steps = this.stmt(`SELECT name FROM steps WHERE run_id = ? ORDER BY idx`).all(row.id) as {
          name: string;
        }[];
        if (!design) throw new StoreError("E_STORE_NO_SNAPSHOT", `run ${row.id} has no design as loaded`);
        const applyId = newRunId();
        this.insertRun(applyId, {
          host: planned.host,
          pipeline: planned.pipeline,
          pipelineJson: planned.pipelineJson,
          totalSteps: planned.totalSteps,
          requestedBy: planned.requestedBy,
          origin: planned.origin,
          source: planned.source,
          clipboardYaml: design.yaml,
          forced: planned.forced,
          stepNames: steps.map((s) => s.name),
          approval: planned.applyApproval,
          planRun: planned.id,
        });
        return { plan: toRun(row), apply: this.getNow(applyId) };
      }).immediate,
    );
  }

  /** Insert a run with its steps, design and first event; inside the caller's transaction. */
  private insertRun(id: string, run: NewRun & { planRun?: string }): void {
    const holder = this.stmt(
      `SELECT id, state FROM runs WHERE host = ? AND state IN ${HOST_HOLDING_STATES}`,
    ).get(run.host) as { id: string; state: string } | undefined;
    if (holder) {
      throw new RunError(
        "E_HOST_BUSY",
        `${run.host} already has run ${holder.id} (${holder.state}); wait for it, or cancel it with: cancel ${holder.id}`,
      );
    }
    const { approval } = run;
    const held = run.lease !== undefined && approval === undefined;
    const requirement = approval
      ? JSON.stringify({
          role: approval.role,
          count: approval.count,
          requesterPerson: approval.requesterPerson,
          notify: approval.notify,
        })
      : null;
    this.stmt(
      `INSERT INTO runs (id, host, pipeline, pipeline_json, state, step_index, total_steps, requested_by, origin, source,
        created_at, started_at, lease_owner, lease_expires_at, group_id, after_json, forced,
        approval_json, approval_expires_at, plan, apply_approval_json, plan_run)
       VALUES (?, ?, ?, ?, ?, -1, ?, ?, ?, ?, ${NOW}, CASE WHEN ? THEN ${NOW} END, ?,
         CASE WHEN ? THEN ${NOW} + ? END, ?, ?, ?, ?, CASE WHEN ? IS NOT NULL THEN ${NOW} + ? END, ?, ?, ?)`,
    ).run(
      id,
      run.host,
      run.pipeline,
      run.pipelineJson,
      approval ? "awaiting_approval" : held ? "running" : "queued",
      run.totalSteps,
      run.requestedBy,
      run.origin,
      run.source,
      held ? 1 : 0,
      held ? (run.lease?.owner ?? null) : null,
      held ? 1 : 0,
      run.lease?.leaseMs ?? 0,
      run.group ?? null,
      JSON.stringify(run.after ?? []),
      run.forced ? 1 : 0,
      requirement,
      requirement,
      approval?.expiresInMs ?? 0,
      run.plan ? 1 : 0,
      run.applyApproval ? JSON.stringify(run.applyApproval) : null,
      run.planRun ?? null,
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
    if (approval) this.appendAwaiting(id);
    else this.appendRunEvent(id, "run-queued");
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
      }).immediate,
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
      }).immediate,
    );
  }

  async cancelIfQueued(runId: string, error: WireError): Promise<QueuedCancel> {
    const row = this.guard(
      "cancel a queued run",
      this.db.transaction(() => {
        const cancelled = this.stmt(
          `UPDATE runs SET state = 'cancelled', finished_at = ${NOW}, error_json = ?, lease_owner = NULL,
             lease_expires_at = NULL
           WHERE id = ? AND state IN ('queued', 'awaiting_approval') RETURNING *`,
        ).get(encode("error", error), runId) as RunRow | undefined;
        if (cancelled) this.appendRunEvent(runId, "run-finished");
        return cancelled;
      }).immediate,
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
      }).immediate,
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
          `SELECT id, state FROM runs WHERE host = ? AND state IN ${HOST_HOLDING_STATES}`,
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
      }).immediate,
    );
    return this.mustGet(runId);
  }

  /** Tell followers a run waits for approval, and whom to ask (inside the creating transaction). */
  private appendAwaiting(runId: string): void {
    const run = toRun(this.stmt(`SELECT * FROM runs WHERE id = ?`).get(runId) as RunRow);
    if (!run.approval) return;
    const { role, count, expiresAt, notify } = run.approval;
    this.feed.appendUnfenced(runId, {
      type: "run-awaiting-approval",
      run: summarize(run),
      approval: { role, count, expiresAt, notify },
    });
  }

  /** Append a run-level event carrying the run's summary as it stands in this transaction. */
  appendRunEvent(runId: string, type: "run-queued" | "run-started" | "run-finished"): void {
    const row = this.stmt(`SELECT * FROM runs WHERE id = ?`).get(runId) as RunRow;
    this.feed.appendUnfenced(runId, { type, run: summarize(toRun(row)) });
  }

  private async mustGet(id: string): Promise<RunRecord> {
    return this.getNow(id);
  }

  /** The run as this transaction sees it. */
  private getNow(id: string): RunRecord {
    const row = this.stmt(`SELECT * FROM runs WHERE id = ?`).get(id) as RunRow | undefined;
    if (!row) throw new StoreError("E_STORE_LOST", `run ${id} vanished from the store`);
    return toRun(row);
  }

  private async getRun(id: string): Promise<RunRecord | undefined> {
    const row = this.stmt(`SELECT * FROM runs WHERE id = ?`).get(id) as RunRow | undefined;
    return row ? toRun(row) : undefined;
  }
}
