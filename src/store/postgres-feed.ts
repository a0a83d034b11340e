/**
 * The run event feed in PostgreSQL: one `events` row per event, numbered by the `feed_head`
 * counter row. Taking that row's lock orders appends by commit, so a follower that has read up to
 * N never later finds an N-1 it passed. Each append notifies FEED_CHANNEL in the same
 * transaction (delivered at commit), which wakes followers in every process.
 */
import { stepRow } from "./run-summary.js";
import { NOW, prepared } from "./postgres-context.js";
import { FEED_CHANNEL } from "./postgres-notifier.js";
import { followPages } from "./follow-pages.js";
import type { PostgresContext, Queryable } from "./postgres-context.js";
import type { FeedNotifier } from "./postgres-notifier.js";
import type { RunEvent, RunEventBody } from "../protocol.js";
import type { FeedQuery, FollowOptions, Lease, LogLine } from "./run-store.js";

/** Pause between polls, only while notifications may be missed. */
const POLL_MS = 100;

/** Named, as a prepared statement's result must keep its shape. */
const EVENT_COLUMNS = "seq, run_id, at, host, origin, body";

interface EventRow {
  seq: number;
  run_id: string;
  at: number;
  host: string;
  origin: string;
  body: string;
}

/**
 * The CTEs that append one event for the run CTE `r` yields (id, host, origin; none, or one):
 * `h` takes the next number from the counter, `e` inserts the event. The counter row's lock is
 * held until the statement's transaction commits, so callers take it last.
 */
export function appendEventCtes(typeParam: number): string {
  return appendEventCtesOf(`$${typeParam}`, `$${typeParam + 1}`);
}

/** As appendEventCtes, with the event's type and body as SQL expressions (over `r` if need be). */
export function appendEventCtesOf(type: string, body: string): string {
  return `h AS (UPDATE feed_head SET seq = seq + 1 WHERE id = 1 AND EXISTS (SELECT 1 FROM r) RETURNING seq),
    e AS (INSERT INTO events (seq, run_id, at, host, origin, type, body)
          SELECT h.seq, r.id, ${NOW}, r.host, r.origin, ${type}, ${body}
          FROM r, h RETURNING run_id)`;
}

/** The select that notifies followers of what `e` inserted (delivered at commit). */
export const NOTIFY_APPENDED = `SELECT pg_notify('${FEED_CHANNEL}', run_id) FROM e`;

function appendSql(source: string, typeParam: number): string {
  return `WITH r AS (${source}), ${appendEventCtes(typeParam)} ${NOTIFY_APPENDED}`;
}

/** Fenced: only while the lease is held, and the row locked against a takeover until commit. */
const APPEND_FENCED = appendSql(
  `SELECT id, host, origin FROM runs WHERE id = $1 AND lease_owner = $2 AND state = 'running' FOR SHARE`,
  3,
);
const APPEND_UNFENCED = appendSql(`SELECT id, host, origin FROM runs WHERE id = $1`, 2);

/**
 * A batch of step-log bodies ($3, in order), fenced as APPEND_FENCED: the counter moves once by
 * the batch's size and the lines take its numbers in order. One NOTIFY for the batch: followers
 * read everything after their last seq when woken, so one wake-up per run and commit is enough
 * (and the payload, the 8-character run id, stays the same for every line anyway).
 */
const APPEND_LOG_BATCH = `WITH r AS (
    SELECT id, host, origin FROM runs WHERE id = $1 AND lease_owner = $2 AND state = 'running' FOR SHARE),
  l AS (SELECT body, ord FROM unnest($3::text[]) WITH ORDINALITY AS l(body, ord)),
  h AS (UPDATE feed_head SET seq = seq + cardinality($3::text[]) WHERE id = 1 AND EXISTS (SELECT 1 FROM r)
        RETURNING seq),
  e AS (INSERT INTO events (seq, run_id, at, host, origin, type, body)
        SELECT h.seq - cardinality($3::text[]) + l.ord, r.id, ${NOW}, r.host, r.origin, 'step-log', l.body
        FROM r, h, l RETURNING run_id)
  SELECT n.appended, pg_notify('${FEED_CHANNEL}', $1) FROM (SELECT count(*)::int AS appended FROM e) n
  WHERE n.appended > 0`;

export class PostgresFeed {
  constructor(
    private readonly context: PostgresContext,
    private readonly notifier: FeedNotifier,
  ) {}

  /** Append only while `lease` is held (one statement: the check and the insert); false if not. */
  async appendFenced(client: Queryable, lease: Lease, body: RunEventBody): Promise<boolean> {
    const result = await client.query(
      prepared(APPEND_FENCED, [lease.runId, lease.owner, body.type, JSON.stringify(body)]),
    );
    return result.rowCount === 1;
  }

  /** Append step-log bodies (JSON of step-log events) only while `lease` is held: how many (0: lost). */
  async appendLogBatch(client: Queryable, lease: Lease, bodies: string[]): Promise<number> {
    const result = await client.query<{ appended: number }>(
      prepared(APPEND_LOG_BATCH, [lease.runId, lease.owner, bodies]),
    );
    return result.rows[0]?.appended ?? 0;
  }

  /** Append for a write that was itself checked, inside the same transaction. */
  async appendUnfenced(client: Queryable, runId: string, body: RunEventBody): Promise<void> {
    await client.query(prepared(APPEND_UNFENCED, [runId, body.type, JSON.stringify(body)]));
  }

  async latestSeq(): Promise<number> {
    const rows = await this.context.preparedRows<{ seq: number }>(
      "read the run feed",
      `SELECT seq FROM feed_head`,
      [],
    );
    return rows[0]?.seq ?? 0;
  }

  async read(afterSeq: number, query: FeedQuery): Promise<RunEvent[]> {
    const limit = query.limit ?? 1000;
    const rows =
      query.runId !== undefined
        ? await this.context.preparedRows<EventRow>(
            "read the run feed",
            `SELECT ${EVENT_COLUMNS} FROM events WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
            [query.runId, afterSeq, limit],
          )
        : await this.context.preparedRows<EventRow>(
            "read the run feed",
            `SELECT ${EVENT_COLUMNS} FROM events WHERE seq > $1 ORDER BY seq LIMIT $2`,
            [afterSeq, limit],
          );
    return rows.map(toEvent);
  }

  async *follow(afterSeq: number, options: FollowOptions): AsyncGenerator<RunEvent> {
    const { runId, signal } = options;
    const pollMs = options.pollMs ?? POLL_MS;
    await this.notifier.start();
    yield* followPages(afterSeq, {
      read: (seq, limit) => this.read(seq, { ...(runId !== undefined ? { runId } : {}), limit }),
      arm: () => {
        const waiter = this.notifier.arm(runId);
        return { wait: (s) => waiter.wait(pollMs, s), cancel: () => waiter.cancel() };
      },
      signal,
    });
  }

  async readLog(runId: string): Promise<LogLine[]> {
    const total = await this.context.rows<{ total_steps: number }>(
      "read a run's log",
      `SELECT total_steps FROM runs WHERE id = $1`,
      [runId],
    );
    const rows = await this.context.rows<EventRow>(
      "read a run's log",
      `SELECT * FROM events WHERE run_id = $1 AND type = 'step-log' ORDER BY seq`,
      [runId],
    );
    const lines: LogLine[] = [];
    for (const row of rows) {
      const event = toEvent(row);
      if (event.type !== "step-log") continue;
      lines.push({
        id: event.seq,
        runId,
        stepIndex: stepRow(event.step, total[0]?.total_steps ?? 0),
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
