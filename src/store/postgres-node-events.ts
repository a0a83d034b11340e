/**
 * Node events and rule firings in PostgreSQL. A firing is one upsert whose update applies only
 * when the last firing is older than the debounce: a second claimer waits on the row lock, then
 * finds the condition false, so two services sharing the database fire a rule for a node once.
 */
import { NOW } from "./postgres-context.js";
import type { PostgresContext } from "./postgres-context.js";
import { NODE_EVENTS_KEPT, unknownEventCursor } from "./node-event-store.js";
import { toEvent, toFiring } from "./node-event-rows.js";
import { followPages } from "./follow-pages.js";
import { NODE_EVENTS_CHANNEL } from "./postgres-notifier.js";
import type { FeedNotifier } from "./postgres-notifier.js";
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

/** Migration: agents' events and the rules' last firings. */
export const NODE_EVENTS_SCHEMA = `
CREATE TABLE node_events (
  id TEXT PRIMARY KEY, host TEXT NOT NULL, kind TEXT NOT NULL, at BIGINT NOT NULL,
  received_at BIGINT NOT NULL, data TEXT NOT NULL, seq BIGSERIAL NOT NULL
);
CREATE INDEX node_events_by_host ON node_events(host, seq);
CREATE INDEX node_events_by_seq ON node_events(seq);
CREATE TABLE rule_firings (
  rule TEXT NOT NULL, host TEXT NOT NULL, event_id TEXT NOT NULL, fired_at BIGINT NOT NULL,
  run_id TEXT, error TEXT, PRIMARY KEY (rule, host)
);`;

/** Pause between polls, only while notifications may be missed. */
const POLL_MS = 100;

export class PostgresNodeEvents {
  constructor(
    private readonly c: PostgresContext,
    private readonly notifier: FeedNotifier,
  ) {}

  async record(e: NewNodeEvent): Promise<boolean> {
    return this.c.tx("keep a node event", async (client) => {
      // A sequence hands numbers out at insert, not at commit: two services keeping events at once
      // could commit 6 before 5, and a follower that read 6 would never see 5. Writers of events
      // take turns (readers are not held up), so seq follows commit order.
      await client.query(`LOCK TABLE node_events IN SHARE ROW EXCLUSIVE MODE`);
      const inserted = await client.query(
        `INSERT INTO node_events (id, host, kind, at, received_at, data) VALUES ($1, $2, $3, $4, ${NOW}, $5)
         ON CONFLICT (id) DO NOTHING`,
        [e.id, e.host, e.kind, e.at, JSON.stringify(e.data)],
      );
      if (inserted.rowCount === 0) return false;
      await client.query(
        `DELETE FROM node_events WHERE host = $1 AND seq <= (
           SELECT seq FROM node_events WHERE host = $1 ORDER BY seq DESC LIMIT 1 OFFSET $2)`,
        [e.host, NODE_EVENTS_KEPT],
      );
      // Delivered at commit, to every process's followers of this node or of all nodes.
      await client.query(`SELECT pg_notify('${NODE_EVENTS_CHANNEL}', $1)`, [e.host]);
      return true;
    });
  }

  async latestSeq(): Promise<number> {
    const [row] = await this.c.rows<{ seq: string | null }>(
      "read the newest node event",
      `SELECT max(seq) AS seq FROM node_events`,
    );
    return Number(row?.seq ?? 0);
  }

  async after(afterSeq: number, query: { host?: string; limit: number }): Promise<NodeEventRecord[]> {
    const rows =
      query.host === undefined
        ? await this.c.rows<EventRow>(
            "read node events",
            `SELECT * FROM node_events WHERE seq > $1 ORDER BY seq LIMIT $2`,
            [afterSeq, query.limit],
          )
        : await this.c.rows<EventRow>(
            "read node events",
            `SELECT * FROM node_events WHERE host = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
            [query.host, afterSeq, query.limit],
          );
    return rows.map(toEvent);
  }

  async *follow(afterSeq: number, follow: NodeEventFollow): AsyncGenerator<NodeEventRecord> {
    const host = follow.host;
    await this.notifier.start();
    yield* followPages(afterSeq, {
      read: (seq, limit) => this.after(seq, { ...(host === undefined ? {} : { host }), limit }),
      arm: () => {
        const waiter = this.notifier.arm(host);
        return { wait: (signal) => waiter.wait(follow.pollMs ?? POLL_MS, signal), cancel: waiter.cancel };
      },
      signal: follow.signal,
    });
  }

  async list(query: NodeEventQuery): Promise<NodeEventRecord[]> {
    const { host, before, limit } = query;
    let below = String(Number.MAX_SAFE_INTEGER);
    if (before !== undefined) {
      const [row] = await this.c.rows<{ seq: string }>(
        "find a node events cursor",
        host === undefined
          ? `SELECT seq FROM node_events WHERE id = $1`
          : `SELECT seq FROM node_events WHERE id = $1 AND host = $2`,
        host === undefined ? [before] : [before, host],
      );
      if (!row) throw unknownEventCursor(before, host);
      below = row.seq;
    }
    // One query per shape, so each reads its index (by host, or by seq) in order.
    const rows =
      host === undefined
        ? await this.c.rows<EventRow>(
            "list node events",
            `SELECT * FROM node_events WHERE seq < $1 ORDER BY seq DESC LIMIT $2`,
            [below, limit],
          )
        : await this.c.rows<EventRow>(
            "list node events",
            `SELECT * FROM node_events WHERE host = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3`,
            [host, below, limit],
          );
    return rows.map(toEvent);
  }

  async claim(claim: RuleFiringClaim): Promise<RuleFiring | undefined> {
    const rows = await this.c.rows<FiringRow>(
      "claim a rule firing",
      `INSERT INTO rule_firings (rule, host, event_id, fired_at) VALUES ($1, $2, $3, ${NOW})
       ON CONFLICT (rule, host) DO UPDATE SET event_id = EXCLUDED.event_id, fired_at = EXCLUDED.fired_at,
         run_id = NULL, error = NULL, held_event_id = NULL
       WHERE rule_firings.fired_at + $4 <= EXCLUDED.fired_at
       RETURNING *`,
      [claim.rule, claim.host, claim.eventId, claim.debounceMs],
    );
    return rows[0] && toFiring(rows[0]);
  }

  async hold(claim: RuleFiringClaim): Promise<number> {
    const rows = await this.c.rows<{ wait: string }>(
      "hold an event for a rule's trailing firing",
      `UPDATE rule_firings SET held_event_id = $1 WHERE rule = $2 AND host = $3
       RETURNING greatest(0, fired_at + $4 - ${NOW}) AS wait`,
      [claim.eventId, claim.rule, claim.host, claim.debounceMs],
    );
    return Number(rows[0]?.wait ?? 0);
  }

  async claimHeld(key: RuleKey & { debounceMs: number }): Promise<HeldFiringClaim> {
    const fired = await this.c.rows<FiringRow>(
      "claim a rule's trailing firing",
      `UPDATE rule_firings SET event_id = held_event_id, held_event_id = NULL, fired_at = ${NOW},
         run_id = NULL, error = NULL
       WHERE rule = $1 AND host = $2 AND held_event_id IS NOT NULL AND fired_at + $3 <= ${NOW}
       RETURNING *`,
      [key.rule, key.host, key.debounceMs],
    );
    const row = fired[0];
    if (row) {
      const [event] = await this.c.rows<EventRow>(
        "read a held event",
        `SELECT * FROM node_events WHERE id = $1`,
        [row.event_id],
      );
      return { kind: "fired", firing: toFiring(row), event: event && toEvent(event) };
    }
    const [held] = await this.c.rows<{ wait: string }>(
      "read a held event's wait",
      `SELECT greatest(1, fired_at + $1 - ${NOW}) AS wait FROM rule_firings
       WHERE rule = $2 AND host = $3 AND held_event_id IS NOT NULL`,
      [key.debounceMs, key.rule, key.host],
    );
    return held ? { kind: "wait", ms: Number(held.wait) } : { kind: "none" };
  }

  async held(): Promise<RuleKey[]> {
    return this.c.rows<RuleKey>(
      "list held rule events",
      `SELECT rule, host FROM rule_firings WHERE held_event_id IS NOT NULL ORDER BY rule, host`,
      [],
    );
  }

  async recordResult(
    claim: Pick<RuleFiring, "rule" | "host" | "eventId">,
    result: { runId: string } | { error: string },
  ): Promise<void> {
    await this.c.rows(
      "record a rule firing's result",
      `UPDATE rule_firings SET run_id = $1, error = $2 WHERE rule = $3 AND host = $4 AND event_id = $5`,
      [
        "runId" in result ? result.runId : null,
        "error" in result ? result.error : null,
        claim.rule,
        claim.host,
        claim.eventId,
      ],
    );
  }

  async get(rule: string, host: string): Promise<RuleFiring | undefined> {
    const rows = await this.c.rows<FiringRow>(
      "read a rule firing",
      `SELECT * FROM rule_firings WHERE rule = $1 AND host = $2`,
      [rule, host],
    );
    return rows[0] && toFiring(rows[0]);
  }
}
