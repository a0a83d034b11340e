/**
 * Schedules in SQLite. The claim of an occurrence is one transaction: move `next_at` on only if it
 * is still what the claimer read (compare-and-set) and insert the occurrence under its primary key
 * (schedule id, occurrence time), so two processes sharing the file can never both handle it.
 */
import type Database from "better-sqlite3";
import { newRunId } from "./ids.js";
import { NOW } from "./sqlite-context.js";
import { StoreError } from "../errors.js";
import type { SqliteContext } from "./sqlite-context.js";
import type {
  NewSchedule,
  OccurrenceClaim,
  OccurrenceRecord,
  ScheduleRecord,
  ScheduleTiming,
} from "./schedule-store.js";

const SCHEDULE_SCHEMA = `
CREATE TABLE IF NOT EXISTS schedules (
  id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, source TEXT NOT NULL, at INTEGER, cron TEXT, timezone TEXT,
  misfire TEXT NOT NULL, force INTEGER NOT NULL, created_by TEXT NOT NULL, origin TEXT NOT NULL,
  file_access TEXT NOT NULL, created_at INTEGER NOT NULL, next_at INTEGER
);
CREATE INDEX IF NOT EXISTS schedules_due ON schedules(next_at) WHERE next_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS schedule_occurrences (
  schedule_id TEXT NOT NULL, at INTEGER NOT NULL, handled_at INTEGER NOT NULL, handled_by TEXT NOT NULL,
  late INTEGER NOT NULL, missed_before INTEGER NOT NULL, action TEXT NOT NULL, run_id TEXT, error TEXT,
  PRIMARY KEY (schedule_id, at)
);
`;

/** Create the schedule tables when missing. */
export function migrateSchedules(db: Database.Database): void {
  db.exec(SCHEDULE_SCHEMA);
}

interface ScheduleRow {
  id: string;
  pipeline: string;
  source: string;
  at: number | null;
  cron: string | null;
  timezone: string | null;
  misfire: ScheduleRecord["misfire"];
  force: number;
  created_by: string;
  origin: string;
  file_access: ScheduleRecord["fileAccess"];
  created_at: number;
  next_at: number | null;
}

interface OccurrenceRow {
  schedule_id: string;
  at: number;
  handled_at: number;
  handled_by: string;
  late: number;
  missed_before: number;
  action: OccurrenceRecord["action"];
  run_id: string | null;
  error: string | null;
}

/** Schedules over the store's connection. */
export class SqliteSchedules {
  private readonly db: SqliteContext["db"];
  private readonly stmt: SqliteContext["stmt"];
  private readonly guard: SqliteContext["guard"];
  private readonly claimTx: (claim: OccurrenceClaim) => boolean;

  constructor(context: SqliteContext) {
    this.db = context.db;
    this.stmt = context.stmt;
    this.guard = context.guard;
    this.claimTx = this.db.transaction((claim: OccurrenceClaim) => {
      const moved = this.stmt(`UPDATE schedules SET next_at = ? WHERE id = ? AND next_at = ?`).run(
        claim.nextAt,
        claim.scheduleId,
        claim.expectedNextAt,
      );
      if (moved.changes !== 1) return false;
      const inserted = this.stmt(
        `INSERT INTO schedule_occurrences (schedule_id, at, handled_at, handled_by, late, missed_before, action)
         VALUES (?, ?, ${NOW}, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      ).run(
        claim.scheduleId,
        claim.occurrence.at,
        claim.owner,
        claim.occurrence.late ? 1 : 0,
        claim.occurrence.missedBefore,
        claim.occurrence.action,
      );
      if (inserted.changes === 1) return true;
      // Recorded before (a schedule moved back by hand, say): undo the move, handle it never twice.
      this.stmt(`UPDATE schedules SET next_at = ? WHERE id = ?`).run(claim.expectedNextAt, claim.scheduleId);
      return false;
    }).immediate;
  }

  create(schedule: NewSchedule): ScheduleRecord {
    const id = `s-${newRunId()}`;
    const { timing } = schedule;
    this.guard("create a schedule", () =>
      this.stmt(
        `INSERT INTO schedules (id, pipeline, source, at, cron, timezone, misfire, force, created_by, origin,
           file_access, created_at, next_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ${NOW}, ?)`,
      ).run(
        id,
        schedule.pipeline,
        schedule.source,
        timing.kind === "at" ? timing.at : null,
        timing.kind === "cron" ? timing.cron : null,
        timing.kind === "cron" ? timing.timezone : null,
        schedule.misfire,
        schedule.force ? 1 : 0,
        schedule.createdBy,
        schedule.origin,
        schedule.fileAccess,
        schedule.nextAt,
      ),
    );
    const created = this.get(id);
    if (!created) throw new StoreError("E_STORE_LOST", `schedule ${id} vanished from the store`);
    return created;
  }

  get(id: string): ScheduleRecord | undefined {
    const row = this.stmt(`SELECT * FROM schedules WHERE id = ?`).get(id) as ScheduleRow | undefined;
    return row ? this.toSchedule(row) : undefined;
  }

  list(): ScheduleRecord[] {
    const rows = this.stmt(`SELECT * FROM schedules ORDER BY created_at, rowid`).all() as ScheduleRow[];
    return rows.map((r) => this.toSchedule(r));
  }

  due(): ScheduleRecord[] {
    const rows = this.guard("read due schedules", () =>
      this.stmt(
        `SELECT * FROM schedules WHERE next_at IS NOT NULL AND next_at <= ${NOW} ORDER BY next_at`,
      ).all(),
    ) as ScheduleRow[];
    return rows.map((r) => this.toSchedule(r));
  }

  delete(id: string): boolean {
    return this.guard(
      "delete a schedule",
      this.db.transaction(() => {
        this.stmt(`DELETE FROM schedule_occurrences WHERE schedule_id = ?`).run(id);
        return this.stmt(`DELETE FROM schedules WHERE id = ?`).run(id).changes === 1;
      }).immediate,
    );
  }

  claim(claim: OccurrenceClaim): boolean {
    return this.guard("claim a schedule's occurrence", () => this.claimTx(claim));
  }

  recordResult(scheduleId: string, at: number, result: { runId: string } | { error: string }): void {
    this.guard("record a schedule's run", () =>
      this.stmt(`UPDATE schedule_occurrences SET run_id = ?, error = ? WHERE schedule_id = ? AND at = ?`).run(
        "runId" in result ? result.runId : null,
        "error" in result ? result.error : null,
        scheduleId,
        at,
      ),
    );
  }

  occurrences(scheduleId: string, limit: number): OccurrenceRecord[] {
    const rows = this.stmt(
      `SELECT * FROM schedule_occurrences WHERE schedule_id = ? ORDER BY at DESC LIMIT ?`,
    ).all(scheduleId, limit) as OccurrenceRow[];
    return rows.map(toOccurrence);
  }

  private toSchedule(row: ScheduleRow): ScheduleRecord {
    const [last] = this.occurrences(row.id, 1);
    const timing: ScheduleTiming =
      row.cron !== null
        ? { kind: "cron", cron: row.cron, timezone: row.timezone }
        : { kind: "at", at: row.at ?? row.created_at };
    return {
      id: row.id,
      pipeline: row.pipeline,
      source: row.source,
      timing,
      misfire: row.misfire,
      force: row.force === 1,
      createdBy: row.created_by,
      origin: row.origin,
      fileAccess: row.file_access,
      createdAt: row.created_at,
      nextAt: row.next_at,
      last: last ?? null,
    };
  }
}

function toOccurrence(row: OccurrenceRow): OccurrenceRecord {
  return {
    scheduleId: row.schedule_id,
    at: row.at,
    handledAt: row.handled_at,
    handledBy: row.handled_by,
    late: row.late === 1,
    missedBefore: row.missed_before,
    action: row.action,
    runId: row.run_id,
    error: row.error,
  };
}
