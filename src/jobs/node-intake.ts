/**
 * What agents say about themselves, into the node store: heartbeats (liveness, version, groups)
 * and facts. Each is written the same whichever replica reads it, and every write is idempotent
 * (a heartbeat never moves last_seen back, facts are kept only when their hash changed), so it
 * does not matter which replica reads which message.
 */
import type { FactsMessage, Heartbeat } from "../agent/protocol.js";
import type { NodeStore } from "../nodes/node-store.js";
import type { AgentBus } from "./agent-bus.js";

/** Heartbeats a node may miss before it counts as offline. */
const MISSED_HEARTBEATS = 3;

export class NodeIntake {
  constructor(
    private readonly bus: AgentBus,
    private readonly nodes: NodeStore,
    private readonly log: (line: string) => void,
  ) {}

  async heartbeats(beats: { host: string; beat: Heartbeat }[]): Promise<void> {
    // jarvis's clock, not the node's: liveness must not depend on the node's clock being right.
    const at = Date.now();
    await this.nodes.recordHeartbeats(
      beats.map(({ host, beat }) => ({
        host,
        at,
        agentVersion: beat.version,
        groups: beat.groups,
        offlineAfterMs: beat.intervalS * 1000 * MISSED_HEARTBEATS,
      })),
    );
    // A node's consumer is made when jarvis first hears from it, not on its first job's hot path.
    const unknown = [...new Set(beats.map((b) => b.host))].filter((h) => !this.bus.hasNodeConsumer(h));
    if (unknown.length > 0) {
      this.bus
        .ensureNodeConsumers(unknown)
        .catch((err: unknown) =>
          this.log(`cannot make the consumers of ${unknown.length} nodes yet: ${(err as Error).message}`),
        );
    }
  }

  async facts(host: string, facts: FactsMessage): Promise<void> {
    await this.nodes.recordFacts({
      host,
      at: Date.now(),
      hash: facts.hash,
      groups: facts.groups,
      facts: facts.facts,
    });
  }
}
