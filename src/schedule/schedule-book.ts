/**
 * What the dispatcher does with schedules: make one (its timing checked by croner against the
 * store's clock, so every process agrees on its first occurrence), list them with their recent
 * occurrences, and delete one. The scheduler (scheduler.ts) fires them; this only keeps the book.
 */
import { ScheduleError } from "../errors.js";
import { nextOccurrence, parseAt, parseCron } from "./timing.js";
import type { FileAccess } from "../clipboard/sources/design-source.js";
import type { Requester } from "../pipeline/run-control.js";
import type { Misfire, OccurrenceRecord, ScheduleRecord, ScheduleStore } from "../store/schedule-store.js";

/** How many of a schedule's handled occurrences `schedules` shows. */
export const RECENT_OCCURRENCES = 5;

/** When a schedule fires, as written: an ISO time or a cron pattern, in a timezone (null: UTC). */
export type ScheduleWhen =
  { at: string; timezone: string | null } | { cron: string; timezone: string | null };

/** A schedule to make, its source already the design to run on. */
export interface ScheduleRequest {
  pipeline: string;
  source: string;
  when: ScheduleWhen;
  misfire: Misfire;
  force: boolean;
}

/** A schedule with its newest handled occurrences (newest first). */
export interface ScheduleView extends ScheduleRecord {
  occurrences: OccurrenceRecord[];
}

/** The store and its clock. */
export type ScheduleBookStore = ScheduleStore & { now(): Promise<number> };

/** Make a schedule; its first occurrence must lie in the future. */
export async function createSchedule(
  store: ScheduleBookStore,
  request: ScheduleRequest,
  who: Requester,
  fileAccess: FileAccess,
): Promise<ScheduleView> {
  const now = await store.now();
  const { when } = request;
  const timing =
    "at" in when ? parseAt(when.at, when.timezone, now) : parseCron(when.cron, when.timezone, now);
  const record = await store.createSchedule({
    pipeline: request.pipeline,
    source: request.source,
    timing,
    misfire: request.misfire,
    force: request.force,
    createdBy: who.identity,
    origin: who.origin,
    fileAccess,
    nextAt: nextOccurrence(timing, now),
  });
  return { ...record, occurrences: [] };
}

/** Every schedule, oldest first, each with its recent occurrences. */
export async function listSchedules(store: ScheduleStore): Promise<ScheduleView[]> {
  const records = await store.listSchedules();
  return Promise.all(
    records.map(async (record) => ({
      ...record,
      occurrences: await store.listOccurrences(record.id, RECENT_OCCURRENCES),
    })),
  );
}

/** A schedule by id, or E_SCHEDULE_NOT_FOUND. */
export async function findSchedule(store: ScheduleStore, id: string): Promise<ScheduleRecord> {
  const record = await store.getSchedule(id);
  if (!record) throw notFound(id);
  return record;
}

/** Delete a schedule and its occurrences, or E_SCHEDULE_NOT_FOUND. */
export async function deleteSchedule(store: ScheduleStore, id: string): Promise<void> {
  if (!(await store.deleteSchedule(id))) throw notFound(id);
}

function notFound(id: string): ScheduleError {
  return new ScheduleError(
    "E_SCHEDULE_NOT_FOUND",
    `no schedule ${id.slice(0, 40)}; list them with: schedules`,
  );
}
