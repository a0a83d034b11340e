/**
 * summarize() (run-summary.ts) as an SQL expression over a `runs` row, so that a run's change and
 * its run-level feed event are one statement: the event's summary is of the row as written, and no
 * transaction has to hold the row between an UPDATE and an append. The contract suite compares the
 * events of both stores with summarize() of the records they return.
 */

/** The summary's keys every run has, each with its SQL over the row alias. */
function pairs(row: string): string[] {
  return [
    `'id', ${row}.id`,
    `'host', ${row}.host`,
    `'pipeline', ${row}.pipeline`,
    `'state', ${row}.state`,
    `'totalSteps', ${row}.total_steps`,
    `'step', CASE WHEN ${row}.step_index >= 0 THEN json_build_object('phase', 'main', 'index', ${row}.step_index,
       'total', ${row}.total_steps, 'name', COALESCE(${row}.step_name, '')) END`,
    `'requestedBy', ${row}.requested_by`,
    `'origin', ${row}.origin`,
    `'group', ${row}.group_id`,
    `'startedAt', ${row}.started_at`,
    `'finishedAt', ${row}.finished_at`,
    // json, not jsonb: jsonb refuses a \u0000 that a step's error message may hold.
    `'error', ${row}.error_json::json`,
  ];
}

/**
 * The JSON text of `{type, run: summary}` for the row alias `row`. `plan` and `planRun` appear only
 * when set, as summarize() leaves them out: one object per combination, json having no `||`.
 */
export function runEventBodySql(type: "run-started" | "run-finished", row: string): string {
  const summary = (extra: string[]): string => `json_build_object(${[...pairs(row), ...extra].join(", ")})`;
  const planRun = `'planRun', ${row}.plan_run`;
  return `json_build_object('type', '${type}', 'run', CASE
      WHEN ${row}.plan AND ${row}.plan_run IS NOT NULL THEN ${summary([`'plan', true`, planRun])}
      WHEN ${row}.plan THEN ${summary([`'plan', true`])}
      WHEN ${row}.plan_run IS NOT NULL THEN ${summary([planRun])}
      ELSE ${summary([])} END)::text`;
}
