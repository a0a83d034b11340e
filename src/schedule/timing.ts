/**
 * When a schedule fires, as people write it (`at 2026-12-24T02:00Z`, `cron "0 3 * * 0"`, an IANA
 * timezone), checked with croner and turned into occurrences. Every refusal says what was wrong,
 * in which field, and what to write instead.
 */
import { Cron } from "croner";
import { ScheduleError } from "../errors.js";
import type { ScheduleTiming } from "../store/schedule-store.js";

/** Check an IANA timezone name (null: UTC). */
export function checkTimezone(timezone: string | null): void {
  if (timezone === null) return;
  try {
    new Intl.DateTimeFormat("en", { timeZone: timezone });
  } catch {
    throw new ScheduleError(
      "E_SCHEDULE_TIMEZONE",
      `timezone '${timezone.slice(0, 40)}' is not an IANA timezone; write one like Europe/Berlin or UTC`,
    );
  }
}

/**
 * An `at` time: ISO 8601 with a zone (`2026-12-24T02:00Z`, `...+01:00`), or without one when a
 * timezone is given; it must lie after `now`.
 */
export function parseAt(text: string, timezone: string | null, now: number): ScheduleTiming {
  checkTimezone(timezone);
  const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?$/i.exec(text);
  if (!iso) {
    throw new ScheduleError(
      "E_SCHEDULE_AT",
      `at '${text.slice(0, 40)}' is not a time jarvis reads; write ISO 8601 with a zone, e.g. 2026-12-24T02:00Z`,
    );
  }
  let at: number;
  if (iso[3] !== undefined) at = Date.parse(text.toUpperCase());
  else if (timezone !== null)
    at = new Cron(text, { timezone, paused: true }).nextRun(new Date(0))?.getTime() ?? NaN;
  else {
    throw new ScheduleError(
      "E_SCHEDULE_AT",
      `at '${text}' has no zone; add Z (UTC) or an offset like +01:00, or give a timezone`,
    );
  }
  if (!Number.isFinite(at)) {
    throw new ScheduleError("E_SCHEDULE_AT", `at '${text}' is not a real date; check the day and the hour`);
  }
  if (at <= now) {
    throw new ScheduleError(
      "E_SCHEDULE_AT",
      `at ${new Date(at).toISOString()} is in the past (now ${new Date(now).toISOString()}); give a future time`,
    );
  }
  return { kind: "at", at };
}

/** A cron pattern (5 fields, or 6 with seconds first) in a timezone (null: UTC). */
export function parseCron(pattern: string, timezone: string | null, now: number): ScheduleTiming {
  checkTimezone(timezone);
  let cron: Cron;
  try {
    cron = new Cron(pattern, { timezone: timezone ?? "UTC", paused: true });
  } catch (err) {
    throw new ScheduleError(
      "E_SCHEDULE_CRON",
      `cron '${pattern.slice(0, 60)}' is not valid (${(err as Error).message}); write minute hour day-of-month month day-of-week, e.g. "0 3 * * 0" for Sundays at 03:00`,
      { cause: err },
    );
  }
  if (cron.nextRun(new Date(now)) === null) {
    throw new ScheduleError(
      "E_SCHEDULE_CRON",
      `cron '${pattern}' never fires after now; check its date fields`,
    );
  }
  return { kind: "cron", cron: pattern, timezone };
}

/** The first occurrence strictly after `after`, or null when there is none. */
export function nextOccurrence(timing: ScheduleTiming, after: number): number | null {
  if (timing.kind === "at") return timing.at > after ? timing.at : null;
  const cron = new Cron(timing.cron, { timezone: timing.timezone ?? "UTC", paused: true });
  return cron.nextRun(new Date(after))?.getTime() ?? null;
}
