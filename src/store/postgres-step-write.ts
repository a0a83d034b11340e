/**
 * What a lease holder records about one step (its fields, the run's position, the output
 * clipboard, the feed event) as ONE statement: the lease check locks the run's row and every write
 * depends on it. One round trip per step instead of a transaction's six, and the feed counter's
 * lock is held only while the statement runs, not across a COMMIT's round trip.
 */
import { appendEventCtes } from "./postgres-feed.js";
import { FEED_CHANNEL } from "./postgres-notifier.js";
import { encodeStepField } from "./postgres-rows.js";
import { STEP_COLUMNS } from "./run-rows.js";
import type { Lease, StepPatch, StepWrite } from "./run-store.js";

/** The statement and its arguments; its one row says whether the lease was held. */
export function stepWriteStatement(
  lease: Lease,
  index: number,
  write: StepWrite,
): { sql: string; args: unknown[] } {
  const args: unknown[] = [lease.runId, lease.owner, index];
  const param = (value: unknown): string => `$${args.push(value)}`;
  const ctes = [
    `r AS (SELECT id, host, origin FROM runs WHERE id = $1 AND lease_owner = $2 AND state = 'running'
           FOR NO KEY UPDATE)`,
  ];
  const keys = (Object.keys(write.patch) as (keyof StepPatch)[]).filter((k) =>
    Object.hasOwn(STEP_COLUMNS, k),
  );
  if (keys.length > 0) {
    const sets = keys.map((k) => `${STEP_COLUMNS[k]} = ${param(encodeStepField(write.patch, k))}`);
    ctes.push(
      `s AS (UPDATE steps SET ${sets.join(", ")} WHERE run_id = $1 AND idx = $3 AND EXISTS (SELECT 1 FROM r))`,
    );
  }
  if (write.moveRun) {
    ctes.push(
      `m AS (UPDATE runs SET step_index = $3, step_name = (SELECT name FROM steps WHERE run_id = $1 AND idx = $3)
             WHERE id = $1 AND EXISTS (SELECT 1 FROM r))`,
    );
  }
  if (write.output !== undefined) {
    ctes.push(
      `o AS (INSERT INTO snapshots (run_id, idx, phase, yaml) SELECT $1, $3, 'output', ${param(write.output)} FROM r
             ON CONFLICT (run_id, idx, phase) DO UPDATE SET yaml = EXCLUDED.yaml)`,
    );
  }
  let notify = "";
  if (write.event) {
    const typeParam = args.length + 1;
    args.push(write.event.type, JSON.stringify(write.event));
    ctes.push(appendEventCtes(typeParam));
    notify = `, (SELECT count(pg_notify('${FEED_CHANNEL}', run_id)) FROM e) AS notified`;
  }
  return { sql: `WITH ${ctes.join(",\n")} SELECT (SELECT count(*) FROM r) AS held${notify}`, args };
}
