/**
 * A run's life in PostgreSQL: created queued or held, claimed, its lease renewed and released,
 * started, finished, cancelled, retried. Each operation that assumes a state checks it in the
 * statement that writes, or holds the run's row lock for its transaction; claims skip rows another
 * process is claiming at that moment (FOR UPDATE SKIP LOCKED) instead of queueing behind them.
 */
import { ACTIVE_HOLDER, createRun, finishPlanForApproval } from "./postgres-run-create.js";
import { RUN_COLUMNS } from "./postgres-rows.js";
import { encodeError, toRun } from "./run-rows.js";
import { summarize } from "./run-summary.js";
import { NOW, isUniqueViolation } from "./postgres-context.js";
import { RunError, StoreError } from "../errors.js";
import type { RunRow } from "./run-rows.js";
import type { PostgresContext, Queryable } from "./postgres-context.js";
import { appendEventCtesOf } from "./postgres-feed.js";
import { runEventBodySql } from "./postgres-run-summary.js";
import { FEED_CHANNEL } from "./postgres-notifier.js";
import type { PostgresFeed } from "./postgres-feed.js";
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

const ONE_ACTIVE_PER_HOST = "runs_one_active_per_host";

export class PostgresRunLifecycle {
  constructor(
    private readonly context: PostgresContext,
    private readonly feed: PostgresFeed,
  ) {}

  createRun(run: NewRun): Promise<RunRecord> {
    return createRun(this.context, this.feed, run);
  }

  async claimableRuns(): Promise<RunRecord[]> {
    const rows = await this.context.rows<RunRow>(
      "list claimable runs",
      `SELECT ${RUN_COLUMNS} FROM runs
       WHERE (state = 'queued' AND (lease_owner IS NULL OR lease_expires_at < ${NOW}))
          OR (state = 'running' AND (lease_expires_at IS NULL OR lease_expires_at < ${NOW}))
       ORDER BY created_at, created_order`,
    );
    return rows.map(toRun);
  }

  async claim(runId: string, owner: string, leaseMs: number): Promise<RunRecord | undefined> {
    const rows = await this.context.preparedRows<RunRow>(
      "claim a run",
      `UPDATE runs SET lease_owner = $2, lease_expires_at = ${NOW} + $3::bigint,
         state = CASE WHEN state = 'queued' THEN 'running' ELSE state END
       WHERE id = (SELECT id FROM runs WHERE id = $1 AND state IN ('queued', 'running')
                     AND (lease_owner IS NULL OR lease_owner = $2 OR lease_expires_at < ${NOW})
                   FOR UPDATE SKIP LOCKED)
       RETURNING ${RUN_COLUMNS}`,
      [runId, owner, leaseMs],
    );
    const row = rows[0];
    return row ? toRun(row) : undefined;
  }

  async renew(owner: string, runIds: string[], leaseMs: number): Promise<HeldLease[]> {
    if (runIds.length === 0) return [];
    const rows = await this.context.preparedRows<{ id: string; cancel_requested: boolean }>(
      "renew leases",
      `UPDATE runs SET lease_expires_at = ${NOW} + $1::bigint
       WHERE lease_owner = $2 AND state = 'running' AND id = ANY($3::text[])
       RETURNING id, cancel_requested`,
      [leaseMs, owner, runIds],
    );
    return rows.map((r) => ({ runId: r.id, cancelRequested: r.cancel_requested }));
  }

  async release(lease: Lease): Promise<boolean> {
    const rows = await this.context.rows(
      "release a lease",
      `UPDATE runs SET lease_expires_at = 0 WHERE id = $1 AND lease_owner = $2 AND state = 'running'
       RETURNING id`,
      [lease.runId, lease.owner],
    );
    return rows.length === 1;
  }

  async markStarted(lease: Lease): Promise<RunRecord | undefined> {
    return this.updateWithEvent(
      "start a run",
      "run-started",
      `UPDATE runs SET started_at = CASE WHEN step_index < 0 THEN ${NOW} ELSE COALESCE(started_at, ${NOW}) END
       WHERE id = $1 AND lease_owner = $2 AND state = 'running' RETURNING ${RUN_COLUMNS}`,
      [lease.runId, lease.owner],
    );
  }

  async finishIfOwner(lease: Lease, ending: RunEnding): Promise<RunRecord | undefined> {
    return this.updateWithEvent(
      "finish a run",
      "run-finished",
      `UPDATE runs SET state = $3, error_json = $4, finished_at = ${NOW}, lease_owner = NULL,
         lease_expires_at = NULL, cancel_requested = false
       WHERE id = $1 AND lease_owner = $2 AND state = 'running' RETURNING ${RUN_COLUMNS}`,
      [lease.runId, lease.owner, ending.state, encodeError(ending.error)],
    );
  }

  finishPlanForApproval(lease: Lease): Promise<{ plan: RunRecord; apply: RunRecord } | undefined> {
    return finishPlanForApproval(this.context, this.feed, lease);
  }

  async cancelIfQueued(runId: string, error: WireError): Promise<QueuedCancel> {
    const cancelled = await this.updateWithEvent(
      "cancel a queued run",
      "run-finished",
      `UPDATE runs SET state = 'cancelled', finished_at = ${NOW}, error_json = $2, lease_owner = NULL,
         lease_expires_at = NULL
       WHERE id = $1 AND state IN ('queued', 'awaiting_approval') RETURNING ${RUN_COLUMNS}`,
      [runId, encodeError(error)],
    );
    if (cancelled) return { outcome: "cancelled", run: cancelled };
    return { outcome: "not-queued", run: await this.getRun(runId) };
  }

  async requestCancel(runId: string): Promise<RunRecord | undefined> {
    return this.context.tx("request a cancel", async (client) => {
      const updated = await client.query<RunRow>(
        `UPDATE runs SET cancel_requested = true WHERE id = $1 AND state = 'running' RETURNING ${RUN_COLUMNS}`,
        [runId],
      );
      const row = updated.rows[0];
      if (row) await this.feed.appendUnfenced(client, runId, { type: "run-cancel-requested" });
      return row ? toRun(row) : undefined;
    });
  }

  async retryRun(request: RetryRequest): Promise<RunRecord> {
    try {
      return await this.context.tx("retry a run", (client) => this.retryInTx(client, request));
    } catch (err) {
      // A run for the host was created between our check and our update: name it, as the check does.
      if (!(err instanceof StoreError) || !isUniqueViolation(err.cause, ONE_ACTIVE_PER_HOST)) throw err;
      const run = await this.getRun(request.runId);
      const holder = run
        ? (
            await this.context.rows<{ id: string; state: string }>("retry a run", ACTIVE_HOLDER, [run.host])
          )[0]
        : undefined;
      throw new RunError(
        "E_HOST_BUSY",
        `${run?.host ?? request.runId} already has run ${holder?.id ?? "(ended meanwhile)"} (${holder?.state ?? "gone"}); wait for it or cancel it first`,
      );
    }
  }

  private async retryInTx(client: Queryable, request: RetryRequest): Promise<RunRecord> {
    const { runId, from } = request;
    const found = await client.query<RunRow>(`SELECT ${RUN_COLUMNS} FROM runs WHERE id = $1 FOR UPDATE`, [
      runId,
    ]);
    const run = found.rows[0];
    if (!run) throw new RunError("E_RUN_NOT_FOUND", `no run ${runId}`);
    if (run.state !== "failed" && run.state !== "cancelled") {
      throw new RunError(
        "E_RUN_STATE",
        `run ${run.id} of ${run.host} is ${run.state}; only a failed or cancelled run can be retried`,
      );
    }
    const holder = (await client.query<{ id: string; state: string }>(ACTIVE_HOLDER, [run.host])).rows[0];
    if (holder) {
      throw new RunError(
        "E_HOST_BUSY",
        `${run.host} already has run ${holder.id} (${holder.state}); wait for it or cancel it first`,
      );
    }
    await client.query(`DELETE FROM steps WHERE run_id = $1 AND idx >= $2`, [runId, from]);
    await client.query(`DELETE FROM snapshots WHERE run_id = $1 AND idx >= $2 AND phase = 'output'`, [
      runId,
      from,
    ]);
    await client.query(
      `INSERT INTO steps (run_id, idx, name, state, on_failure)
       SELECT $1, $2 + ord - 1, name, 'pending', on_failure
       FROM unnest($3::text[], $4::boolean[]) WITH ORDINALITY AS s(name, on_failure, ord)`,
      [runId, from, request.steps.map((s) => s.name), request.steps.map((s) => s.onFailure)],
    );
    if (request.clipboardYaml !== undefined) {
      await client.query(
        `INSERT INTO snapshots (run_id, idx, phase, yaml) VALUES ($1, $2, 'input', $3)
         ON CONFLICT (run_id, idx, phase) DO UPDATE SET yaml = EXCLUDED.yaml`,
        [runId, from, request.clipboardYaml],
      );
    }
    const held = request.lease !== undefined;
    const updated = await client.query<RunRow>(
      `UPDATE runs SET state = $2, error_json = NULL, finished_at = NULL, cancel_requested = false,
         requested_by = $3, origin = $4, forced = $5, lease_owner = $6,
         lease_expires_at = CASE WHEN $7 THEN ${NOW} + $8::bigint END
       WHERE id = $1 AND state IN ('failed', 'cancelled') RETURNING ${RUN_COLUMNS}`,
      [
        runId,
        held ? "running" : "queued",
        request.requestedBy,
        request.origin,
        request.forced,
        request.lease?.owner ?? null,
        held,
        request.lease?.leaseMs ?? 0,
      ],
    );
    const row = updated.rows[0];
    if (!row) throw new StoreError("E_STORE_LOST", `run ${runId} changed while it was being retried`);
    const record = toRun(row);
    await this.feed.appendUnfenced(client, runId, { type: "run-queued", run: summarize(record) });
    return record;
  }

  /**
   * One conditional update (`sql`, returning RUN_COLUMNS) and, when it matched, its run-level
   * event, in one statement: the event's summary is built in SQL from the row as updated.
   */
  private async updateWithEvent(
    what: string,
    type: "run-started" | "run-finished",
    sql: string,
    args: unknown[],
  ): Promise<RunRecord | undefined> {
    const rows = await this.context.preparedRows<RunRow>(
      what,
      `WITH r AS (${sql}), ${appendEventCtesOf(`'${type}'`, runEventBodySql(type, "r"))}
       SELECT ${RUN_COLUMNS}, (SELECT count(pg_notify('${FEED_CHANNEL}', run_id)) FROM e) AS notified FROM r`,
      args,
    );
    const row = rows[0];
    return row ? toRun(row) : undefined;
  }

  async getRun(id: string): Promise<RunRecord | undefined> {
    const rows = await this.context.preparedRows<RunRow>(
      "read a run",
      `SELECT ${RUN_COLUMNS} FROM runs WHERE id = $1`,
      [id],
    );
    const row = rows[0];
    return row ? toRun(row) : undefined;
  }
}
