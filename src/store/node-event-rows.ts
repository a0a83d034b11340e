/**
 * Node events and rule firings from their rows, for both stores: SQLite hands back its integers as
 * numbers, PostgreSQL its BIGINTs as strings, so times go through Number() either way.
 */
import type { FactValue } from "../inventory/node-view.js";
import type { NodeEventRecord, RuleFiring } from "./node-event-store.js";

export interface EventRow {
  id: string;
  host: string;
  kind: string;
  at: number | string;
  received_at: number | string;
  data: string;
  seq: number | string;
}

export interface FiringRow {
  rule: string;
  host: string;
  event_id: string;
  fired_at: number | string;
  run_id: string | null;
  error: string | null;
}

export function toEvent(row: EventRow): NodeEventRecord {
  return {
    id: row.id,
    host: row.host,
    kind: row.kind,
    at: Number(row.at),
    receivedAt: Number(row.received_at),
    data: JSON.parse(row.data) as Record<string, FactValue>,
    seq: Number(row.seq),
  };
}

export function toFiring(row: FiringRow): RuleFiring {
  return {
    rule: row.rule,
    host: row.host,
    eventId: row.event_id,
    firedAt: Number(row.fired_at),
    runId: row.run_id,
    error: row.error,
  };
}
