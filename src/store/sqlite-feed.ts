/**
 * The run event feed in SQLite: one `events` row per event, `seq` its rowid (one past the largest;
 * events are never deleted, so a seq is never reused, and the table needs no AUTOINCREMENT
 * bookkeeping on the hot path). SQLite serialises writers, so a reader never sees seq N+1
 * committed before N and "everything after my last seq" never skips an event. Followers poll (a cheap indexed read)
 * for what other processes write, and are woken at once by what this connection appends; a store
 * with notifications (PostgreSQL's LISTEN/NOTIFY) wakes them for every writer.
 */
import { LocalWakeups } from "./local-wakeups.js";
import { stepRow } from "./run-summary.js";
import { NOW } from "./sqlite-context.js";
import type { SqliteContext } from "./sqlite-context.js";
import type { RunEvent, RunEventBody } from "../protocol.js";
import type { FeedQuery, FollowOptions, Lease, LogLine } from "./run-store.js";

/** Default pause between polls when a follower has seen everything. */
const POLL_MS = 100;

interface EventRow {
  seq: number;
  run_id: string;
  at: number;
  host: string;
  origin: string;
  body: string;
}

/** The feed's reads and writes over the store's connection (its statements and error guard). */
export class SqliteFeed {
  private readonly stmt: SqliteContext["stmt"];
  private readonly guard: SqliteContext["guard"];
  /** Followers sleeping until the next poll, woken by an append here. */
  private readonly wakeups = new LocalWakeups();

  constructor(context: SqliteContext) {
    this.stmt = context.stmt;
    this.guard = context.guard;
  }

  /** Append only while `lease` is held (one statement: the check and the insert). */
  appendFenced(lease: Lease, body: RunEventBody): boolean {
    return (
      this.stmt(
        `INSERT INTO events (run_id, at, host, origin, type, body)
         SELECT id, ${NOW}, host, origin, ?, ? FROM runs WHERE id = ? AND lease_owner = ? AND state = 'running'`,
      ).run(body.type, JSON.stringify(body), lease.runId, lease.owner).changes === 1 && this.wakeups.wake()
    );
  }

  /** Append for a write that was itself checked (inside the same transaction). */
  appendUnfenced(runId: string, body: RunEventBody): void {
    this.stmt(
      `INSERT INTO events (run_id, at, host, origin, type, body)
       SELECT id, ${NOW}, host, origin, ?, ? FROM runs WHERE id = ?`,
    ).run(body.type, JSON.stringify(body), runId);
    this.wakeups.wake();
  }

  latestSeq(): number {
    const row = this.stmt(`SELECT max(seq) AS seq FROM events`).get() as { seq: number | null };
    return row.seq ?? 0;
  }

  read(afterSeq: number, query: FeedQuery): RunEvent[] {
    const limit = query.limit ?? 1000;
    const rows = this.guard("read the run feed", () =>
      query.runId !== undefined
        ? this.stmt(`SELECT * FROM events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?`).all(
            query.runId,
            afterSeq,
            limit,
          )
        : this.stmt(`SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?`).all(afterSeq, limit),
    ) as EventRow[];
    return rows.map(toEvent);
  }

  async *follow(afterSeq: number, options: FollowOptions): AsyncGenerator<RunEvent> {
    let seq = afterSeq;
    const query: FeedQuery = { ...(options.runId !== undefined ? { runId: options.runId } : {}), limit: 500 };
    while (!options.signal.aborted) {
      const batch = this.read(seq, query);
      for (const event of batch) {
        seq = event.seq;
        yield event;
        if (options.signal.aborted) return;
      }
      if (batch.length === query.limit) continue; // more are waiting
      await this.wakeups.arm(options.pollMs ?? POLL_MS).wait(options.signal);
    }
  }

  readLog(runId: string): LogLine[] {
    const total = this.stmt(`SELECT total_steps FROM runs WHERE id = ?`).get(runId) as
      { total_steps: number } | undefined;
    const rows = this.stmt(`SELECT * FROM events WHERE run_id = ? AND type = 'step-log' ORDER BY seq`).all(
      runId,
    ) as EventRow[];
    const lines: LogLine[] = [];
    for (const row of rows) {
      const event = toEvent(row);
      if (event.type !== "step-log") continue;
      lines.push({
        id: event.seq,
        runId,
        stepIndex: stepRow(event.step, total?.total_steps ?? 0),
        step: event.step,
        attempt: event.attempt,
        at: event.at,
        stream: event.stream,
        line: event.line,
      });
    }
    return lines;
  }
}

function toEvent(row: EventRow): RunEvent {
  // The body was written by appendFenced/appendUnfenced from a typed RunEventBody.
  const body = JSON.parse(row.body) as RunEventBody;
  return { ...body, seq: row.seq, at: row.at, runId: row.run_id, host: row.host, origin: row.origin };
}
