/**
 * A schedule as JSON, the same for the HTTP API and the CLI: snake_case fields like `status
 * --json`, times as ISO 8601, each recent occurrence `ran` (with its run id) or `skipped`.
 */
import type { OccurrenceRecord } from "../store/schedule-store.js";
import type { ScheduleView } from "./schedule-book.js";
import type { ScheduleJson } from "../api/response-schemas.js";

/** What a schedule's JSON is made of (a remote CLI has it back from the API in this shape). */
export type ScheduleParts = Pick<
  ScheduleView,
  | "id"
  | "pipeline"
  | "source"
  | "timing"
  | "misfire"
  | "force"
  | "createdBy"
  | "createdAt"
  | "nextAt"
  | "occurrences"
>;

/** A schedule as the API and `jarvis schedules --json` show it (times as ISO 8601). */
export function scheduleJson(schedule: ScheduleParts): ScheduleJson {
  const { timing } = schedule;
  return {
    id: schedule.id,
    pipeline: schedule.pipeline,
    source: schedule.source,
    ...(timing.kind === "at"
      ? { at: iso(timing.at) }
      : { cron: timing.cron, timezone: timing.timezone ?? "UTC" }),
    misfire: schedule.misfire,
    force: schedule.force,
    created_by: schedule.createdBy,
    created_at: iso(schedule.createdAt),
    next_at: schedule.nextAt === null ? null : iso(schedule.nextAt),
    occurrences: schedule.occurrences.map(occurrenceBody),
  };
}

function occurrenceBody(occurrence: OccurrenceRecord): ScheduleJson["occurrences"][number] {
  return {
    at: iso(occurrence.at),
    action: occurrence.action === "skip" ? "skipped" : "ran",
    late: occurrence.late,
    missed_before: occurrence.missedBefore,
    run_id: occurrence.runId,
    error: occurrence.error,
    handled_at: iso(occurrence.handledAt),
    handled_by: occurrence.handledBy,
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
