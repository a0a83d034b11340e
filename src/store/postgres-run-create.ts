/**
 * Creating a run in PostgreSQL: queued, held by a foreground process, or awaiting approval, with its
 * pending steps, its input clipboard and its first feed event, in one transaction. The host's
 * one-active-run unique index decides between concurrent creators.
 */
import { newRunId } from "./ids.js";
import { RUN_COLUMNS } from "./postgres-rows.js";
import { HOST_HOLDING_STATES, toRun } from "./run-rows.js";
import { summarize } from "./run-summary.js";
import { NOW, prepared } from "./postgres-context.js";
import { RunError, StoreError } from "../errors.js";
import type { RunRow } from "./run-rows.js";
import type { PostgresContext, Queryable } from "./postgres-context.js";
import type { PostgresFeed } from "./postgres-feed.js";
import type { Lease, NewRun, RunRecord } from "./run-store.js";

/** The run that holds a host, if any (what E_HOST_BUSY names). */
export const ACTIVE_HOLDER = `SELECT id, state FROM runs WHERE host = $1 AND state IN ${HOST_HOLDING_STATES}`;

export async function createRun(
  context: PostgresContext,
  feed: PostgresFeed,
  run: NewRun,
): Promise<RunRecord> {
  // The unique index decides between concurrent creators; the loser names the winner's run.
  // Should that run end before we read it, the host is free again: try once more.
  for (let attempt = 0; ; attempt++) {
    const id = newRunId();
    const created = await context.tx("create a run", (client) => insertRun(client, feed, id, run));
    if (created) return created;
    const holder = await context.rows<{ id: string; state: string }>("create a run", ACTIVE_HOLDER, [
      run.host,
    ]);
    const h = holder[0];
    if (h) {
      throw new RunError(
        "E_HOST_BUSY",
        `${run.host} already has run ${h.id} (${h.state}); wait for it, or cancel it with: cancel ${h.id}`,
      );
    }
    if (attempt >= 3) throw new StoreError("E_STORE_IO", `could not create a run for ${run.host}: try again`);
  }
}

/**
 * RunStore.finishPlanForApproval: the plan run ends succeeded and its apply run is created, in one
 * transaction holding the plan run's row lock, so the host passes from one to the other unheld by
 * nobody in between.
 */
export async function finishPlanForApproval(
  context: PostgresContext,
  feed: PostgresFeed,
  lease: Lease,
): Promise<{ plan: RunRecord; apply: RunRecord } | undefined> {
  return context.tx("hand a plan over for approval", async (client) => {
    const current = (
      await client.query<RunRow>(`SELECT ${RUN_COLUMNS} FROM runs WHERE id = $1 FOR UPDATE`, [lease.runId])
    ).rows[0];
    const planned = current && toRun(current);
    if (planned && (!planned.plan || !planned.applyApproval)) {
      throw new RunError("E_RUN_STATE", `run ${planned.id} is no plan-then-apply; nothing to hand over`);
    }
    const row = (
      await client.query<RunRow>(
        `UPDATE runs SET state = 'succeeded', error_json = NULL, finished_at = ${NOW}, lease_owner = NULL,
           lease_expires_at = NULL, cancel_requested = false
         WHERE id = $1 AND lease_owner = $2 AND state = 'running' RETURNING ${RUN_COLUMNS}`,
        [lease.runId, lease.owner],
      )
    ).rows[0];
    if (!row || !planned?.applyApproval) return undefined;
    const plan = toRun(row);
    await feed.appendUnfenced(client, plan.id, { type: "run-finished", run: summarize(plan) });
    const design = (
      await client.query<{ yaml: string }>(
        `SELECT yaml FROM snapshots WHERE run_id = $1 AND idx = 0 AND phase = 'input'`,
        [plan.id],
      )
    ).rows[0];
    if (!design) throw new StoreError("E_STORE_NO_SNAPSHOT", `run ${plan.id} has no design as loaded`);
    const steps = (
      await client.query<{ name: string }>(`SELECT name FROM steps WHERE run_id = $1 ORDER BY idx`, [plan.id])
    ).rows;
    const apply = await insertRun(client, feed, newRunId(), {
      host: plan.host,
      pipeline: plan.pipeline,
      pipelineJson: plan.pipelineJson,
      totalSteps: plan.totalSteps,
      requestedBy: plan.requestedBy,
      origin: plan.origin,
      source: plan.source,
      clipboardYaml: design.yaml,
      forced: plan.forced,
      stepNames: steps.map((s) => s.name),
      approval: planned.applyApproval,
      planRun: plan.id,
    });
    if (!apply) throw new StoreError("E_STORE_IO", `${plan.host} was taken while its plan was handed over`);
    return { plan, apply };
  });
}

async function insertRun(
  client: Queryable,
  feed: PostgresFeed,
  id: string,
  run: NewRun & { planRun?: string },
): Promise<RunRecord | undefined> {
  const { approval } = run;
  // A run awaiting approval is held by no process, whatever `lease` says.
  const held = run.lease !== undefined && approval === undefined;
  const requirement = approval
    ? JSON.stringify({
        role: approval.role,
        count: approval.count,
        requesterPerson: approval.requesterPerson,
        notify: approval.notify,
      })
    : null;
  // The run, its pending steps (names past the pipeline's own are its on_failure steps) and its
  // input clipboard in one statement: steps and clipboard are inserted only if the run was.
  const inserted = await client.query<RunRow>(
    prepared(
      `WITH run AS (INSERT INTO runs (id, host, pipeline, pipeline_json, state, step_index, total_steps, requested_by, origin,
       source, created_at, started_at, lease_owner, lease_expires_at, group_id, after_json, forced,
       approval_json, approval_expires_at, plan, apply_approval_json, plan_run)
     VALUES ($1, $2, $3, $4, $5, -1, $6, $7, $8, $9, ${NOW}, CASE WHEN $10 THEN ${NOW} END, $11,
       CASE WHEN $10 THEN ${NOW} + $12::bigint END, $13, $14, $15,
       $16::text, CASE WHEN $16::text IS NOT NULL THEN ${NOW} + $17::bigint END, $18, $19, $20)
     ON CONFLICT (host) WHERE state IN ${HOST_HOLDING_STATES} DO NOTHING
     RETURNING ${RUN_COLUMNS}),
     new_steps AS (INSERT INTO steps (run_id, idx, name, state, on_failure)
       SELECT run.id, ord - 1, name, 'pending', ord > $6 FROM run, unnest($21::text[]) WITH ORDINALITY AS s(name, ord)),
     input AS (INSERT INTO snapshots (run_id, idx, phase, yaml) SELECT run.id, 0, 'input', $22 FROM run)
     SELECT ${RUN_COLUMNS} FROM run`,
      [
        id,
        run.host,
        run.pipeline,
        run.pipelineJson,
        approval ? "awaiting_approval" : held ? "running" : "queued",
        run.totalSteps,
        run.requestedBy,
        run.origin,
        run.source,
        held,
        held ? (run.lease?.owner ?? null) : null,
        run.lease?.leaseMs ?? 0,
        run.group ?? null,
        JSON.stringify(run.after ?? []),
        run.forced ?? false,
        requirement,
        approval?.expiresInMs ?? 0,
        run.plan ?? false,
        run.applyApproval ? JSON.stringify(run.applyApproval) : null,
        run.planRun ?? null,
        run.stepNames,
        run.clipboardYaml,
      ],
    ),
  );
  const row = inserted.rows[0];
  if (!row) return undefined;
  const record = toRun(row);
  if (record.approval) {
    // Tell followers it waits for approval, and whom to ask.
    const { role, count, expiresAt, notify } = record.approval;
    await feed.appendUnfenced(client, id, {
      type: "run-awaiting-approval",
      run: summarize(record),
      approval: { role, count, expiresAt, notify },
    });
  } else {
    await feed.appendUnfenced(client, id, { type: "run-queued", run: summarize(record) });
  }
  return record;
}
