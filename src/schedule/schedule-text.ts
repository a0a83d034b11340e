/**
 * How schedules read as text, for chat and the CLI alike: one line per schedule with its timing,
 * its next time and what came of its newest occurrences (run and the run id, or skipped).
 */
import type { OccurrenceRecord } from "../store/schedule-store.js";
import type { ScheduleParts } from "./schedule-json.js";

/** `sch-… deploy cn=loki cron "0 3 * * 0" (Europe/Berlin), misfire skip; next 2026-…; last: …` */
export function scheduleLine(schedule: ScheduleParts): string {
  const { timing } = schedule;
  const when =
    timing.kind === "at"
      ? `at ${iso(timing.at)}`
      : `cron "${timing.cron}"${timing.timezone ? ` in ${timing.timezone}` : ""}`;
  const next = schedule.nextAt === null ? "done" : `next ${iso(schedule.nextAt)}`;
  const recent = schedule.occurrences.map(occurrenceText);
  return `${schedule.id}: ${schedule.pipeline} ${schedule.source} ${when}, misfire ${schedule.misfire}${schedule.force ? ", force" : ""}; ${next}${recent.length > 0 ? `; recent: ${recent.join(", ")}` : ""}`;
}

/** `2026-12-24T02:00:00.000Z ran run-…`, `… skipped (missed while jarvis was down)`. */
export function occurrenceText(occurrence: OccurrenceRecord): string {
  const folded = occurrence.missedBefore > 0 ? ` (+${occurrence.missedBefore} earlier missed)` : "";
  const outcome =
    occurrence.action === "skip"
      ? "skipped (missed while jarvis was down)"
      : occurrence.error !== null
        ? `not started: ${occurrence.error}`
        : occurrence.runId !== null
          ? `ran ${occurrence.runId}${occurrence.late ? " (late, misfire once)" : ""}`
          : "starting";
  return `${iso(occurrence.at)} ${outcome}${folded}`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
