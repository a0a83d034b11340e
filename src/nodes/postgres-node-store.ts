/**
 * NodeStore in PostgreSQL, shared by every jarvis replica on the database. Each write that depends
 * on what is stored is one statement: a heartbeat never moves last_seen back, facts are kept only
 * when their hash differs from the node's current one (the upsert's condition, checked under the
 * row lock), and a silent node is marked offline by the one replica whose UPDATE found it online.
 */
import type { NodeView } from "../inventory/node-view.js";
import type { PostgresContext } from "../store/postgres-context.js";
import type { FactsVersion, FactsWrite, HeartbeatWrite, NodeStore } from "./node-store.js";
import { toFactsVersion, toNodeView } from "./node-rows.js";
import type { FactsRow, NodeRow } from "./node-rows.js";

/** Migration: the agents' nodes and the history of their facts. */
export const POSTGRES_NODES_SCHEMA = `
CREATE TABLE nodes (
  host TEXT PRIMARY KEY, groups TEXT NOT NULL DEFAULT '[]', online BOOLEAN NOT NULL DEFAULT false,
  last_seen BIGINT, offline_after_ms BIGINT NOT NULL DEFAULT 30000, agent_version TEXT,
  facts TEXT NOT NULL DEFAULT '{}', facts_hash TEXT NOT NULL DEFAULT ''
);
-- id orders facts kept in the same ms, as SQLite's rowid does.
CREATE TABLE node_facts (
  id BIGSERIAL PRIMARY KEY, host TEXT NOT NULL, at BIGINT NOT NULL, hash TEXT NOT NULL, facts TEXT NOT NULL
);
CREATE INDEX node_facts_host ON node_facts (host, at, id);`;

export class PostgresNodeStore implements NodeStore {
  constructor(private readonly c: PostgresContext) {}

  async list(): Promise<NodeView[]> {
    return (await this.c.rows<NodeRow>("list nodes", "SELECT * FROM nodes ORDER BY host")).map(toNodeView);
  }

  async get(host: string): Promise<NodeView | undefined> {
    const [row] = await this.c.rows<NodeRow>("read a node", "SELECT * FROM nodes WHERE host = $1", [host]);
    return row && toNodeView(row);
  }

  async recordHeartbeat(b: HeartbeatWrite): Promise<void> {
    await this.recordHeartbeats([b]);
  }

  async recordHeartbeats(beats: readonly HeartbeatWrite[]): Promise<void> {
    if (beats.length === 0) return;
    // One statement for a tick's beats. ON CONFLICT may not touch a row twice in one statement, so
    // a host beating twice is folded first as one beat after the other would leave it: the last
    // beat's groups and version, the latest time.
    const folded = new Map<string, HeartbeatWrite>();
    for (const b of beats) {
      const before = folded.get(b.host);
      folded.set(b.host, before ? { ...b, at: Math.max(before.at, b.at) } : b);
    }
    const rows = [...folded.values()];
    await this.c.rows(
      "record heartbeats",
      `INSERT INTO nodes (host, groups, online, last_seen, offline_after_ms, agent_version)
       SELECT host, groups, true, last_seen, offline_after_ms, agent_version
       FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[])
         AS b(host, groups, last_seen, offline_after_ms, agent_version)
       ON CONFLICT (host) DO UPDATE SET groups = EXCLUDED.groups, online = true,
         offline_after_ms = EXCLUDED.offline_after_ms, agent_version = EXCLUDED.agent_version,
         last_seen = GREATEST(COALESCE(nodes.last_seen, 0), EXCLUDED.last_seen)`,
      [
        rows.map((b) => b.host),
        rows.map((b) => JSON.stringify(b.groups)),
        rows.map((b) => b.at),
        rows.map((b) => b.offlineAfterMs),
        rows.map((b) => b.agentVersion),
      ],
    );
  }

  async recordFacts(w: FactsWrite): Promise<boolean> {
    const facts = JSON.stringify(w.facts);
    const rows = await this.c.rows(
      "record a node's facts",
      `WITH changed AS (
         INSERT INTO nodes (host, groups, facts, facts_hash) VALUES ($1, $2, $3, $4)
         ON CONFLICT (host) DO UPDATE SET groups = EXCLUDED.groups, facts = EXCLUDED.facts,
           facts_hash = EXCLUDED.facts_hash
         WHERE nodes.facts_hash <> EXCLUDED.facts_hash
         RETURNING host
       )
       INSERT INTO node_facts (host, at, hash, facts) SELECT host, $5, $4, $3 FROM changed RETURNING id`,
      [w.host, JSON.stringify(w.groups), facts, w.hash, w.at],
    );
    return rows.length === 1;
  }

  async markSilentOffline(now: number): Promise<string[]> {
    const rows = await this.c.rows<{ host: string }>(
      "mark silent nodes offline",
      `UPDATE nodes SET online = false WHERE online AND last_seen + offline_after_ms < $1 RETURNING host`,
      [now],
    );
    return rows.map((r) => r.host);
  }

  async offlineHosts(): Promise<string[]> {
    const rows = await this.c.rows<{ host: string }>(
      "list offline nodes",
      "SELECT host FROM nodes WHERE NOT online ORDER BY host",
    );
    return rows.map((r) => r.host);
  }

  async factsHistory(host: string, limit: number): Promise<FactsVersion[]> {
    const rows = await this.c.rows<FactsRow>(
      "read a node's facts history",
      "SELECT at, hash, facts FROM node_facts WHERE host = $1 ORDER BY at DESC, id DESC LIMIT $2",
      [host, limit],
    );
    return rows.map(toFactsVersion);
  }
}
