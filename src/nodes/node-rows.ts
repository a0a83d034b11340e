/**
 * How nodes and their facts' history are laid out in a SQL table, whichever the database: SQLite
 * keeps `online` as 0/1 where PostgreSQL has BOOLEAN; both keep groups and facts as JSON text.
 */
import type { Facts, NodeView } from "../inventory/node-view.js";
import type { FactsVersion } from "./node-store.js";

export interface NodeRow {
  host: string;
  groups: string;
  online: number | boolean;
  last_seen: number | null;
  agent_version: string | null;
  facts: string;
}

export interface FactsRow {
  at: number;
  hash: string;
  facts: string;
}

export function toNodeView(row: NodeRow): NodeView {
  return {
    host: row.host,
    groups: JSON.parse(row.groups) as string[],
    online: row.online === true || row.online === 1,
    lastSeen: row.last_seen,
    agentVersion: row.agent_version,
    facts: JSON.parse(row.facts) as Facts,
  };
}

export function toFactsVersion(row: FactsRow): FactsVersion {
  return { at: row.at, hash: row.hash, facts: JSON.parse(row.facts) as Facts };
}
