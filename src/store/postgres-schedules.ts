/**
 * Schedules in PostgreSQL. The claim of an occurrence is one transaction: move `next_at` on only
 * if it is still what the claimer read (compare-and-set; the row lock makes a second claimer wait,
 * then find it moved) and insert the occurrence under its primary key (schedule id, occurrence
 * time), so two processes sharing the database can never both handle it.
 */
import { newRunId } from "./ids.js";
import { NOW } from "./postgres-context.js";
import { StoreError } from "../errors.js";
import type { PostgresContext } from "./postgres-context.js";
import type {
  NewSchedule,
  OccurrenceClaim,
  OccurrenceRecord,
  ScheduleRecord,
  ScheduleTiming,
} from "./schedule-store.js";

/** Migration: schedules and their handled occurrences. */
export const SCHEDULES_SCHEMA = `
CREATE TABLE schedules (
  id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, source TEXT NOT NULL, at BIGINT, cron TEXT, timezone TEXT,
  misfire TEXT NOT NULL, force BOOLEAN NOT NULL, created_by TEXT NOT NULL, origin TEXT NOT NULL,
  file_access TEXT NOT NULL, created_at BIGINT NOT NULL, next_at BIGINT,
  -- Schedules made in the same ms list in their order, as SQLite's rowid does.
  created_order BIGSERIAL NOT NULL
);
CREATE INDEX schedules_due ON schedules(next_at) WHERE next_at IS NOT NULL;
CREATE TABLE schedule_occurrences (
  schedule_id TEXT NOT NULL, at BIGINT NOT NULL, handled_at BIGINT NOT NULL, handled_by TEXT NOT NULL,
  late BOOLEAN NOT NULL, missed_before INTEGER NOT NULL, action TEXT NOT NULL, run_id TEXT, error TEXT,
  PRIMARY KEY (schedule_id, at)
);`;

interface ScheduleRow {
  id: string;
  pipeline: string;
  source: string;
  at: number | null;
  cron: string | null;
  timezone: string | null;
  misfire: ScheduleRecord["misfire"];
  force: boolean;
  created_by: string;
  origin: string;
  file_access: ScheduleRecord["fileAccess"];
  created_at: number;
  next_at: number | null;
  /** The newest occurrence, as a JSON object of its row (null when none). */
  last: OccurrenceRow | null;
}

interface OccurrenceRow {
  schedule_id: string;
  at: number;
  handled_at: number;
  handled_by: string;
  late: boolean;
  missed_before: number;
  action: OccurrenceRecord["action"];
  run_id: string | null;
  error: string | null;
}

/** Every schedule column, with its newest occurrence in the same query. */
const SELECT_SCHEDULES = `SELECT s.id, s.pipeline, s.source, s.at, s.cron, s.timezone, s.misfire, s.force,
    s.created_by, s.origin, s.file_access, s.created_at, s.next_at,
    (SELECT row_to_json(o) FROM (SELECT * FROM schedule_occurrences WHERE schedule_id = s.id
       ORDER BY at DESC LIMIT 1) AS o) AS last
  FROM schedules s`;

/** Schedules over the store's pool. */
export class PostgresSchedules {
  constructor(private readonly context: PostgresContext) {}

  async create(schedule: NewSchedule): Promise<ScheduleRecord> {
    const id = `s-${newRunId()}`;
    const { timing } = schedule;
    await this.context.rows(
      "create a schedule",
      `INSERT INTO schedules (id, pipeline, source, at, cron, timezone, misfire, force, created_by, origin,
         file_access, created_at, next_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, ${NOW}, $12)`,
      [
        id,
        schedule.pipeline,
        schedule.source,
        timing.kind === "at" ? timing.at : null,
        timing.kind === "cron" ? timing.cron : null,
        timing.kind === "cron" ? timing.timezone : null,
        schedule.misfire,
        schedule.force,
        schedule.createdBy,
        schedule.origin,
        schedule.fileAccess,
        schedule.nextAt,
      ],
    );
    const created = await this.get(id);
    if (!created) throw new StoreError("E_STORE_LOST", `schedule ${id} vanished from the store`);
    return created;
  }

  async get(id: string): Promise<ScheduleRecord | undefined> {
    const rows = await this.context.rows<ScheduleRow>(
      "read a schedule",
      `${SELECT_SCHEDULES} WHERE s.id = $1`,
      [id],
    );
    return rows[0] && toSchedule(rows[0]);
  }

  async list(): Promise<ScheduleRecord[]> {
    const rows = await this.context.rows<ScheduleRow>(
      "list schedules",
      `${SELECT_SCHEDULES} ORDER BY s.created_at, s.created_order`,
    );
    return rows.map(toSchedule);
  }

  async due(): Promise<ScheduleRecord[]> {
    const rows = await this.context.rows<ScheduleRow>(
      "read due schedules",
      `${SELECT_SCHEDULES} WHERE s.next_at IS NOT NULL AND s.next_at <= ${NOW} ORDER BY s.next_at`,
    );
    return rows.map(toSchedule);
  }

  async delete(id: string): Promise<boolean> {
    return this.context.tx("delete a schedule", async (client) => {
      await client.query(`DELETE FROM schedule_occurrences WHERE schedule_id = $1`, [id]);
      return (await client.query(`DELETE FROM schedules WHERE id = $1`, [id])).rowCount === 1;
    });
  }

  async claim(claim: OccurrenceClaim): Promise<boolean> {
    return this.context.tx("claim a schedule's occurrence", async (client) => {
      const moved = await client.query(`UPDATE schedules SET next_at = $1 WHERE id = $2 AND next_at = $3`, [
        claim.nextAt,
        claim.scheduleId,
        claim.expectedNextAt,
      ]);
      if (moved.rowCount !== 1) return false;
      const inserted = await client.query(
        `INSERT INTO schedule_occurrences (schedule_id, at, handled_at, handled_by, late, missed_before, action)
         VALUES ($1, $2, ${NOW}, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
        [
          claim.scheduleId,
          claim.occurrence.at,
          claim.owner,
          claim.occurrence.late,
          claim.occurrence.missedBefore,
          claim.occurrence.action,
        ],
      );
      if (inserted.rowCount === 1) return true;
      // Recorded before (a schedule moved back by hand, say): undo the move, handle it never twice.
      await client.query(`UPDATE schedules SET next_at = $1 WHERE id = $2`, [
        claim.expectedNextAt,
        claim.scheduleId,
      ]);
      return false;
    });
  }

  async recordResult(
    scheduleId: string,
    at: number,
    result: { runId: string } | { error: string },
  ): Promise<void> {
    await this.context.rows(
      "record a schedule's run",
      `UPDATE schedule_occurrences SET run_id = $1, error = $2 WHERE schedule_id = $3 AND at = $4`,
      ["runId" in result ? result.runId : null, "error" in result ? result.error : null, scheduleId, at],
    );
  }

  async occurrences(scheduleId: string, limit: number): Promise<OccurrenceRecord[]> {
    const rows = await this.context.rows<OccurrenceRow>(
      "list a schedule's occurrences",
      `SELECT * FROM schedule_occurrences WHERE schedule_id = $1 ORDER BY at DESC LIMIT $2`,
      [scheduleId, limit],
    );
    return rows.map(toOccurrence);
  }
}

function toSchedule(row: ScheduleRow): ScheduleRecord {
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
    force: row.force,
    createdBy: row.created_by,
    origin: row.origin,
    fileAccess: row.file_access,
    createdAt: row.created_at,
    nextAt: row.next_at,
    last: row.last ? toOccurrence(row.last) : null,
  };
}

function toOccurrence(row: OccurrenceRow): OccurrenceRecord {
  return {
    scheduleId: row.schedule_id,
    at: row.at,
    handledAt: row.handled_at,
    handledBy: row.handled_by,
    late: row.late,
    missedBefore: row.missed_before,
    action: row.action,
    runId: row.run_id,
    error: row.error,
  };
}
