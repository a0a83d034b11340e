/**
 * Schedules in the store: future-dated (`at`) and recurring (`cron`) runs. The store is the source
 * of truth: every `jarvis start` sharing it reads the due schedules, and an occurrence is handled
 * by whichever process wins the compare-and-set on the schedule's next occurrence, keyed by
 * schedule id and occurrence time, so it starts exactly one run however many processes look.
 */

/** When a schedule fires: once at an instant, or at every match of a cron pattern in a zone. */
export type ScheduleTiming =
  | { kind: "at"; at: number }
  /** `timezone` null: UTC. */
  | { kind: "cron"; cron: string; timezone: string | null };

/** What to do with occurrences missed while no jarvis was running: skip them, or run once. */
export type Misfire = "skip" | "once";

/** What is needed to create a schedule. */
export interface NewSchedule {
  pipeline: string;
  /** The design source as given; shown redacted. */
  source: string;
  timing: ScheduleTiming;
  misfire: Misfire;
  force: boolean;
  /** Identity that scheduled it: the runs it starts are requested by `schedule:<id>` on its behalf. */
  createdBy: string;
  /** Where it was scheduled, and where its runs report progress. */
  origin: string;
  /** Which local files its design may come from (the CLI's local operator: any). */
  fileAccess: "any" | "designs-dirs";
  /** The first occurrence (ms since the epoch); null when it never fires. */
  nextAt: number | null;
}

/** One handled occurrence: run, or skipped because it was missed. */
export interface OccurrenceRecord {
  scheduleId: string;
  /** The occurrence's time (the newest one, when several were missed). */
  at: number;
  /** When a process handled it (the store's clock), and which process. */
  handledAt: number;
  handledBy: string;
  /** It was handled later than the grace period after its time: jarvis was down. */
  late: boolean;
  /** Earlier occurrences missed and folded into this one (0 when none). */
  missedBefore: number;
  action: "run" | "skip";
  /** The run it started, once started. */
  runId: string | null;
  /** Why its run could not be started (host busy, design refused). */
  error: string | null;
}

/** A stored schedule with its newest handled occurrence. */
export interface ScheduleRecord extends NewSchedule {
  id: string;
  createdAt: number;
  last: OccurrenceRecord | null;
}

/** An occurrence a process wants to handle, and where the schedule moves on to. */
export interface OccurrenceClaim {
  scheduleId: string;
  /** The next occurrence the process read; the claim fails unless it still is. */
  expectedNextAt: number;
  /** The one after the handled ones (null: the schedule is done). */
  nextAt: number | null;
  owner: string;
  occurrence: Pick<OccurrenceRecord, "at" | "late" | "missedBefore" | "action">;
}

/** Schedule persistence; implemented by every RunStore. */
export interface ScheduleStore {
  createSchedule(schedule: NewSchedule): Promise<ScheduleRecord>;
  getSchedule(id: string): Promise<ScheduleRecord | undefined>;
  /** Oldest first. */
  listSchedules(): Promise<ScheduleRecord[]>;
  /** Delete a schedule and its occurrences; false when there was none. */
  deleteSchedule(id: string): Promise<boolean>;
  /** Schedules whose next occurrence is at or before the store's clock. */
  dueSchedules(): Promise<ScheduleRecord[]>;
  /**
   * Compare-and-set: record the occurrence and move the schedule on to `nextAt`, only if its next
   * occurrence is still `expectedNextAt` and the occurrence (schedule id + time) was not recorded
   * before. True for exactly one caller per occurrence.
   */
  claimOccurrence(claim: OccurrenceClaim): Promise<boolean>;
  /** Say what came of a claimed occurrence that was to run: its run, or why none started. */
  recordOccurrenceResult(
    scheduleId: string,
    at: number,
    result: { runId: string } | { error: string },
  ): Promise<void>;
  /** A schedule's handled occurrences, newest first. */
  listOccurrences(scheduleId: string, limit: number): Promise<OccurrenceRecord[]>;
}
