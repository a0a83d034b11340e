/**
 * The API's JSON (checked by src/api/response-schemas.ts) as the shapes the terminal shows
 * (format.ts), so a remote command prints exactly what the same local command prints: ISO times
 * back to milliseconds, 1-based positions back to the store's indexes.
 */
import type { z } from "zod";
import type { logJsonSchema, RunJson, ScheduleJson } from "../api/response-schemas.js";
import type { LogLine } from "../store/run-store.js";
import type { ScheduleShown } from "./backend.js";
import type { DetailShown, RunShown, StepShown } from "./format.js";

function ms(iso: string): number;
function ms(iso: string | null): number | null;
function ms(iso: string | null): number | null {
  return iso === null ? null : Date.parse(iso);
}

/** A run (without its steps). */
export function runFromJson(json: RunJson): RunShown {
  return {
    id: json.run,
    host: json.host,
    pipeline: json.pipeline,
    state: json.state,
    // runJson shows the 0-based stepIndex as a 1-based position, 0 before the first step.
    stepIndex: json.step.index - 1,
    stepName: json.step.name === "" ? null : json.step.name,
    totalSteps: json.step.total,
    requestedBy: json.requested_by,
    origin: json.origin,
    source: json.source,
    createdAt: ms(json.created_at),
    startedAt: ms(json.started_at),
    finishedAt: ms(json.finished_at),
    error: json.error,
    group: json.group,
    after: json.after,
    forced: json.forced,
    plan: json.plan,
    approval: json.approval
      ? {
          role: json.approval.role,
          count: json.approval.count,
          expiresAt: ms(json.approval.expires_at),
          notify: json.approval.notify,
        }
      : null,
  };
}

/** A run with its steps and approval decisions (GET /runs/{id}). */
export function detailFromJson(json: RunJson): DetailShown {
  const steps: StepShown[] = (json.steps ?? []).map((s) => ({
    name: s.name,
    state: s.state,
    attempts: s.attempts,
    durationMs: s.duration_ms,
    onFailure: s.on_failure,
    error: s.error === null ? null : { message: s.error },
  }));
  const approvals = (json.approval?.decisions ?? []).map((d) => ({
    runId: json.run,
    person: d.person,
    identity: d.by,
    verdict: d.verdict,
    reason: d.reason,
    at: ms(d.at),
  }));
  return { run: runFromJson(json), steps, approvals };
}

/** One line of GET /runs/{id}/log; `run` gives the main steps' count that on_failure rows follow. */
export function logLineFromJson(run: RunJson, line: z.infer<typeof logJsonSchema>["lines"][number]): LogLine {
  return {
    id: line.seq,
    runId: run.run,
    stepIndex: line.step.phase === "main" ? line.step.index : run.step.total + line.step.index,
    step: line.step,
    attempt: line.attempt,
    at: ms(line.at),
    stream: line.stream,
    line: line.line,
  };
}

/** A schedule (GET /schedules). */
export function scheduleFromJson(json: ScheduleJson): ScheduleShown {
  return {
    id: json.id,
    pipeline: json.pipeline,
    source: json.source,
    timing:
      json.at !== undefined
        ? { kind: "at", at: ms(json.at) }
        : {
            kind: "cron",
            cron: json.cron ?? "",
            timezone: json.timezone === "UTC" ? null : (json.timezone ?? null),
          },
    misfire: json.misfire,
    force: json.force,
    createdBy: json.created_by,
    createdAt: ms(json.created_at),
    nextAt: ms(json.next_at),
    occurrences: json.occurrences.map((o) => ({
      scheduleId: json.id,
      at: ms(o.at),
      handledAt: ms(o.handled_at),
      handledBy: o.handled_by,
      late: o.late,
      missedBefore: o.missed_before,
      action: o.action === "skipped" ? "skip" : "run",
      runId: o.run_id,
      error: o.error,
    })),
  };
}
