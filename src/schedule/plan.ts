/**
 * What a due schedule does now, decided from its next occurrence and the store's clock alone, so
 * every process sharing the store decides the same and the compare-and-set picks one. Occurrences
 * older than the grace period were missed (no jarvis was running): with `misfire: once` the newest
 * of them runs, late, once; with `skip` it is recorded as skipped. Either way one record says how
 * many were folded into it.
 */
import { nextOccurrence } from "./timing.js";
import type { ScheduleRecord } from "../store/schedule-store.js";

/** How far behind its time an occurrence may be handled and still count as on time. */
export const DEFAULT_GRACE_MS = 60_000;

/** Missed occurrences counted one by one at most (a per-second cron down for a year is not walked). */
const MAX_COUNTED = 1000;

/** The occurrence to record and where the schedule goes next. */
export interface OccurrencePlan {
  at: number;
  late: boolean;
  missedBefore: number;
  action: "run" | "skip";
  nextAt: number | null;
}

/** Plan a schedule whose `nextAt` is at or before `now`. */
export function planDue(
  schedule: Pick<ScheduleRecord, "timing" | "misfire" | "nextAt">,
  now: number,
  graceMs = DEFAULT_GRACE_MS,
): OccurrencePlan | undefined {
  if (schedule.nextAt === null || schedule.nextAt > now) return undefined;
  let newest = schedule.nextAt;
  let count = 1;
  for (let next = nextOccurrence(schedule.timing, newest); next !== null && next <= now;) {
    newest = next;
    count += 1;
    if (count >= MAX_COUNTED) break;
    next = nextOccurrence(schedule.timing, newest);
  }
  const nextAt = nextOccurrence(schedule.timing, Math.max(newest, now));
  const late = now - newest > graceMs;
  return {
    at: newest,
    late,
    missedBefore: count - 1,
    action: late && schedule.misfire === "skip" ? "skip" : "run",
    nextAt,
  };
}
