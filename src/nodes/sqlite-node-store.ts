/** NodeStore on the SQLite file of the runs (its own connection; WAL lets both write). */
import type Database from "better-sqlite3";
import type { NodeView } from "../inventory/node-view.js";
import type { FactsVersion, FactsWrite, HeartbeatWrite, NodeStore } from "./node-store.js";
import { toFactsVersion, toNodeView } from "./node-rows.js";
import type { FactsRow, NodeRow } from "./node-rows.js";

export const NODE_SCHEMA = `
CREATE TABLE IF NOT EXISTS nodes (
  host TEXT PRIMARY KEY,
  groups TEXT NOT NULL DEFAULT '[]',
  online INTEGER NOT NULL DEFAULT 0,
  last_seen INTEGER,
  offline_after_ms INTEGER NOT NULL DEFAULT 30000,
  agent_version TEXT,
  facts TEXT NOT NULL DEFAULT '{}',
  facts_hash TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS node_facts (
  host TEXT NOT NULL,
  at INTEGER NOT NULL,
  hash TEXT NOT NULL,
  facts TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS node_facts_host ON node_facts (host, at);
`;

export class SqliteNodeStore implements NodeStore {
  private readonly factsTx: (write: FactsWrite) => boolean;
  private readonly heartbeatsTx: (beats: readonly HeartbeatWrite[]) => void;
  // Prepared once: heartbeats come in by the hundred per second from a large fleet.
  private readonly heartbeatStatement: Database.Statement;
  private readonly silentStatement: Database.Statement;
  private readonly listStatement: Database.Statement;
  private readonly offlineStatement: Database.Statement;

  constructor(private readonly db: Database.Database) {
    db.exec(NODE_SCHEMA);
    // A late heartbeat (older than the last one) must not move last_seen back.
    this.heartbeatStatement = db.prepare(
      `INSERT INTO nodes (host, groups, online, last_seen, offline_after_ms, agent_version) VALUES (?, ?, 1, ?, ?, ?)
       ON CONFLICT (host) DO UPDATE SET groups = excluded.groups, online = 1, offline_after_ms = excluded.offline_after_ms,
         agent_version = excluded.agent_version, last_seen = max(coalesce(last_seen, 0), excluded.last_seen)`,
    );
    this.heartbeatsTx = db.transaction((beats: readonly HeartbeatWrite[]) => {
      for (const b of beats) this.writeHeartbeat(b);
    }).immediate;
    this.silentStatement = db.prepare(
      "UPDATE nodes SET online = 0 WHERE online = 1 AND last_seen + offline_after_ms < ? RETURNING host",
    );
    this.listStatement = db.prepare("SELECT * FROM nodes ORDER BY host");
    this.offlineStatement = db.prepare("SELECT host FROM nodes WHERE online = 0 ORDER BY host");
    this.factsTx = db.transaction((w: FactsWrite) => {
      const row = db.prepare("SELECT facts_hash FROM nodes WHERE host = ?").get(w.host) as
        { facts_hash: string } | undefined;
      if (row?.facts_hash === w.hash) return false;
      db.prepare(
        `INSERT INTO nodes (host, groups, facts, facts_hash) VALUES (?, ?, ?, ?)
         ON CONFLICT (host) DO UPDATE SET groups = excluded.groups, facts = excluded.facts, facts_hash = excluded.facts_hash`,
      ).run(w.host, JSON.stringify(w.groups), JSON.stringify(w.facts), w.hash);
      db.prepare("INSERT INTO node_facts (host, at, hash, facts) VALUES (?, ?, ?, ?)").run(
        w.host,
        w.at,
        w.hash,
        JSON.stringify(w.facts),
      );
      return true;
    }).immediate;
  }

  async list(): Promise<NodeView[]> {
    return (this.listStatement.all() as NodeRow[]).map(toNodeView);
  }

  async get(host: string): Promise<NodeView | undefined> {
    const row = this.db.prepare("SELECT * FROM nodes WHERE host = ?").get(host) as NodeRow | undefined;
    return row && toNodeView(row);
  }

  async recordHeartbeat(b: HeartbeatWrite): Promise<void> {
    this.writeHeartbeat(b);
  }

  async recordHeartbeats(beats: readonly HeartbeatWrite[]): Promise<void> {
    if (beats.length > 0) this.heartbeatsTx(beats);
  }

  private writeHeartbeat(b: HeartbeatWrite): void {
    this.heartbeatStatement.run(b.host, JSON.stringify(b.groups), b.at, b.offlineAfterMs, b.agentVersion);
  }

  async recordFacts(write: FactsWrite): Promise<boolean> {
    return this.factsTx(write);
  }

  async markSilentOffline(now: number): Promise<string[]> {
    const rows = this.silentStatement.all(now) as { host: string }[];
    return rows.map((r) => r.host);
  }

  async offlineHosts(): Promise<string[]> {
    return (this.offlineStatement.all() as { host: string }[]).map((r) => r.host);
  }

  async factsHistory(host: string, limit: number): Promise<FactsVersion[]> {
    const rows = this.db
      .prepare("SELECT at, hash, facts FROM node_facts WHERE host = ? ORDER BY at DESC, rowid DESC LIMIT ?")
      .all(host, limit) as FactsRow[];
    return rows.map(toFactsVersion);
  }
}
