/**
 * What jarvis remembers of its nodes: liveness from heartbeats, facts with their history. It is
 * the NodeDirectory the selector language, `hosts` and jobs read. A sibling of RunStore (same
 * database), so a PostgreSQL store can implement it beside its runs.
 */
import type { Facts, NodeDirectory } from "../inventory/node-view.js";

export interface HeartbeatWrite {
  host: string;
  at: number;
  agentVersion: string;
  groups: string[];
  /** After this long without a heartbeat the node counts as offline. */
  offlineAfterMs: number;
}

export interface FactsWrite {
  host: string;
  at: number;
  hash: string;
  groups: string[];
  facts: Facts;
}

export interface FactsVersion {
  at: number;
  hash: string;
  facts: Facts;
}

export interface NodeStore extends NodeDirectory {
  recordHeartbeat(beat: HeartbeatWrite): Promise<void>;
  /** Many heartbeats in one transaction (a large fleet's beats of one tick). */
  recordHeartbeats(beats: readonly HeartbeatWrite[]): Promise<void>;
  /** Store facts when their hash differs from the node's current facts; true when it did. */
  recordFacts(write: FactsWrite): Promise<boolean>;
  /** Mark offline every online node silent past its offlineAfterMs at `now`; the hosts marked. */
  markSilentOffline(now: number): Promise<string[]>;
  /**
   * The hosts marked offline now, and nothing else about them: the job sweep asks every second
   * while a job holds nodes, and reading every node with its facts for that was most of its work.
   */
  offlineHosts(): Promise<string[]>;
  /** A node's facts as they changed, newest first. */
  factsHistory(host: string, limit: number): Promise<FactsVersion[]>;
}
