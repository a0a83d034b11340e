/**
 * Node events and rule firings in SQLite. A firing is one upsert whose update applies only when
 * the last firing is older than the debounce (compare-and-set in one statement), so two processes
 * sharing the file cannot both fire a rule for a node.
 */
import type Database from "better-sqlite3";
import { NOW } from "./sqlite-context.js";
import type { SqliteContext } from "./sqlite-context.js";
import { NODE_EVENTS_KEPT, unknownEventCursor } from "./node-event-store.js";
import { toEvent, toFiring } from "./node-event-rows.js";
import { followPages } from "./follow-pages.js";
import { LocalWakeups } from "./local-wakeups.js";
import type { EventRow, FiringRow } from "./node-event-rows.js";
import type {
  HeldFiringClaim,
  NewNodeEvent,
  NodeEventFollow,
  NodeEventQuery,
  NodeEventRecord,
  RuleFiring,
  RuleFiringClaim,
  RuleKey,
} from "./node-event-store.js";

const NODE_EVENT_SCHEMA = `
CREATE TABLE IF NOT EXISTS node_events (
  id TEXT PRIMARY KEY, host TEXT NOT NULL, kind TEXT NOT NULL, at INTEGER NOT NULL,
  received_at INTEGER NOT NULL, data TEXT NOT NULL, seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS node_events_by_host ON node_events(host, seq);
CREATE INDEX IF NOT EXISTS node_events_by_seq ON node_events(seq);
CREATE TABLE IF NOT EXISTS rule_firings (
  rule TEXT NOT NULL, host TEXT NOT NULL, event_id TEXT NOT NULL, fired_at INTEGER NOT NULL,
  run_id TEXT, error TEXT, PRIMARY KEY (rule, host)
);
`;

export function migrateNodeEvents(db: Database.Database): void {
  db.exec(NODE_EVENT_SCHEMA);
  const columns = new Set(
    (db.prepare(`PRAGMA table_info(rule_firings)`).all() as { name: string }[]).map((c) => c.name),
  );
  // The event that came within a firing's debounce, fired when it ends (trailing firings).
  if (!columns.has("held_event_id")) db.exec(`ALTER TABLE rule_firings ADD COLUMN held_event_id TEXT`);
}

/** Pause between looks for events other processes kept. */
const POLL_MS = 100;

export class SqliteNodeEvents {
  private readonly recordTx: (event: NewNodeEvent) => boolean;
  private readonly wakeups = new LocalWakeups();

  constructor(private readonly c: SqliteContext) {
    this.recordTx = c.db.transaction((e: NewNodeEvent) => {
      const inserted = c
        .stmt(
          `INSERT INTO node_events (id, host, kind, at, received_at, data, seq)
           VALUES (?, ?, ?, ?, ${NOW}, ?, (SELECT coalesce(max(seq), 0) + 1 FROM node_events))
           ON CONFLICT (id) DO NOTHING`,
        )
        .run(e.id, e.host, e.kind, e.at, JSON.stringify(e.data));
      if (inserted.changes === 0) return false;
      c.stmt(
        `DELETE FROM node_events WHERE host = ? AND seq <= (
           SELECT seq FROM node_events WHERE host = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)`,
      ).run(e.host, e.host, NODE_EVENTS_KEPT);
      return true;
    }).immediate;
  }

  record(event: NewNodeEvent): boolean {
    // The immediate transaction serialises writers: seq (max + 1) is taken in commit order.
    return this.c.guard("keep a node event", () => this.recordTx(event)) && this.wakeups.wake();
  }

  latestSeq(): number {
    const row = this.c.stmt(`SELECT max(seq) AS seq FROM node_events`).get() as { seq: number | null };
    return row.seq ?? 0;
  }

  after(afterSeq: number, query: { host?: string; limit: number }): NodeEventRecord[] {
    const rows = this.c.guard("read node events", () =>
      query.host === undefined
        ? this.c
            .stmt(`SELECT * FROM node_events WHERE seq > ? ORDER BY seq LIMIT ?`)
            .all(afterSeq, query.limit)
        : this.c
            .stmt(`SELECT * FROM node_events WHERE host = ? AND seq > ? ORDER BY seq LIMIT ?`)
            .all(query.host, afterSeq, query.limit),
    ) as EventRow[];
    return rows.map(toEvent);
  }

  follow(afterSeq: number, follow: NodeEventFollow): AsyncGenerator<NodeEventRecord> {
    const host = follow.host;
    return followPages(afterSeq, {
      read: async (seq, limit) => this.after(seq, { ...(host === undefined ? {} : { host }), limit }),
      arm: () => this.wakeups.arm(follow.pollMs ?? POLL_MS),
      signal: follow.signal,
    });
  }

  list(query: NodeEventQuery): NodeEventRecord[] {
    const { host, before, limit } = query;
    const cursor =
      before === undefined
        ? undefined
        : (this.c.stmt(`SELECT seq, host FROM node_events WHERE id = ?`).get(before) as
            { seq: number; host: string } | undefined);
    if (before !== undefined && (cursor === undefined || (host !== undefined && cursor.host !== host)))
      throw unknownEventCursor(before, host);
    // One statement per shape, so each reads its index (by host, or by seq) in order.
    const below = cursor?.seq ?? Number.MAX_SAFE_INTEGER;
    const rows = (
      host === undefined
        ? this.c.stmt(`SELECT * FROM node_events WHERE seq < ? ORDER BY seq DESC LIMIT ?`).all(below, limit)
        : this.c
            .stmt(`SELECT * FROM node_events WHERE host = ? AND seq < ? ORDER BY seq DESC LIMIT ?`)
            .all(host, below, limit)
    ) as EventRow[];
    return rows.map(toEvent);
  }

  claim(claim: RuleFiringClaim): RuleFiring | undefined {
    const row = this.c.guard(
      "claim a rule firing",
      () =>
        this.c
          .stmt(
            `INSERT INTO rule_firings (rule, host, event_id, fired_at) VALUES (?, ?, ?, ${NOW})
             ON CONFLICT (rule, host) DO UPDATE SET event_id = excluded.event_id, fired_at = excluded.fired_at,
               run_id = NULL, error = NULL, held_event_id = NULL
             WHERE rule_firings.fired_at + ? <= excluded.fired_at
             RETURNING *`,
          )
          .get(claim.rule, claim.host, claim.eventId, claim.debounceMs) as FiringRow | undefined,
    );
    return row && toFiring(row);
  }

  hold(claim: RuleFiringClaim): number {
    const row = this.c.guard(
      "hold an event for a rule's trailing firing",
      () =>
        this.c
          .stmt(
            `UPDATE rule_firings SET held_event_id = ? WHERE rule = ? AND host = ?
             RETURNING max(0, fired_at + ? - ${NOW}) AS wait`,
          )
          .get(claim.eventId, claim.rule, claim.host, claim.debounceMs) as { wait: number } | undefined,
    );
    return row?.wait ?? 0;
  }

  claimHeld(key: RuleKey & { debounceMs: number }): HeldFiringClaim {
    return this.c.guard("claim a rule's trailing firing", () => {
      const fired = this.c
        .stmt(
          `UPDATE rule_firings SET event_id = held_event_id, held_event_id = NULL, fired_at = ${NOW},
             run_id = NULL, error = NULL
           WHERE rule = ? AND host = ? AND held_event_id IS NOT NULL AND fired_at + ? <= ${NOW}
           RETURNING *`,
        )
        .get(key.rule, key.host, key.debounceMs) as FiringRow | undefined;
      if (fired) {
        const event = this.c.stmt(`SELECT * FROM node_events WHERE id = ?`).get(fired.event_id) as
          EventRow | undefined;
        return { kind: "fired", firing: toFiring(fired), event: event && toEvent(event) };
      }
      const held = this.c
        .stmt(
          `SELECT max(1, fired_at + ? - ${NOW}) AS wait FROM rule_firings
           WHERE rule = ? AND host = ? AND held_event_id IS NOT NULL`,
        )
        .get(key.debounceMs, key.rule, key.host) as { wait: number } | undefined;
      return held ? { kind: "wait", ms: held.wait } : { kind: "none" };
    });
  }

  held(): RuleKey[] {
    return this.c
      .stmt(`SELECT rule, host FROM rule_firings WHERE held_event_id IS NOT NULL ORDER BY rule, host`)
      .all() as RuleKey[];
  }

  recordResult(
    claim: Pick<RuleFiring, "rule" | "host" | "eventId">,
    result: { runId: string } | { error: string },
  ): void {
    this.c.guard("record a rule firing's result", () =>
      this.c
        .stmt(`UPDATE rule_firings SET run_id = ?, error = ? WHERE rule = ? AND host = ? AND event_id = ?`)
        .run(
          "runId" in result ? result.runId : null,
          "error" in result ? result.error : null,
          claim.rule,
          claim.host,
          claim.eventId,
        ),
    );
  }

  get(rule: string, host: string): RuleFiring | undefined {
    const row = this.c.stmt(`SELECT * FROM rule_firings WHERE rule = ? AND host = ?`).get(rule, host) as
      FiringRow | undefined;
    return row && toFiring(row);
  }
}
