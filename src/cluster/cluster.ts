/**
 * This replica's part in a cluster of `jarvis start`s (cluster: or executor.nats in jarvis.yml):
 * a NATS connection with the cluster buckets, the chat network leases, and its member entry.
 */
import { openBus } from "../pipeline/executors/nats-bus.js";
import { KvChatLeaser } from "./kv-chat-lease.js";
import { ReplicaRegistry } from "./replica-registry.js";
import { openClusterBuckets } from "./cluster-buckets.js";
import { readClusterView } from "./cluster-view.js";
import type { ClusterView } from "./cluster-view.js";
import type { ChatLeaser } from "./chat-lease.js";
import type { JarvisConfig } from "../config.js";

/** A replica in the cluster. */
export interface ClusterMembership {
  id: string;
  leaser: ChatLeaser;
  /** The networks this replica speaks for now (for its member entry). */
  setNetworks(networks: string[]): void;
  view(): Promise<ClusterView>;
  /** Leave the view and close the connection (after the bot has handed its leases back). */
  close(): Promise<void>;
}

/** Join the cluster as replica `id` (the engine's owner id). */
export async function joinCluster(
  settings: NonNullable<JarvisConfig["cluster"]>,
  id: string,
  latestSeq: () => Promise<number>,
  log: (line: string) => void,
): Promise<ClusterMembership> {
  const bus = await openBus(settings.bus, `jarvis replica ${id}`, log);
  const buckets = await openClusterBuckets(bus.js).catch(async (err: unknown) => {
    await bus.close();
    throw err;
  });
  const registry = new ReplicaRegistry(buckets.members, id, log);
  return {
    id,
    leaser: new KvChatLeaser({
      kv: buckets.chatLeases,
      replica: id,
      leaseMs: settings.chatLeaseMs,
      latestSeq,
      log,
    }),
    setNetworks: (networks) => registry.setNetworks(networks),
    view: () => readClusterView(buckets),
    async close() {
      await registry.close();
      await bus.close();
    },
  };
}
