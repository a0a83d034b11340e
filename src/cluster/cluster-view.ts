/**
 * What `GET /health` and `jarvis status --cluster` show of the cluster: the replicas and workers
 * alive (by their member entries), and who holds each chat network.
 */
import type { KV, KvEntry } from "@nats-io/kv";
import type { z } from "zod";
import { decode } from "../pipeline/executors/nats-wire.js";
import { chatLeaseValue, replicaMember, workerMember } from "./cluster-buckets.js";
import type { ClusterBuckets, ReplicaMember, WorkerMember } from "./cluster-buckets.js";

/** A member with the server's time of its last heartbeat. */
export type Seen<T> = T & { lastHeartbeat: number };

/** Who holds a network: a replica id, or null when it was handed back and nobody took it yet. */
export interface NetworkHolding {
  network: string;
  replica: string | null;
  /** When the holder last renewed (server time). */
  renewedAt: number;
  /** How far into the run feed it has spoken. */
  cursor: number;
}

/** The cluster as its buckets show it. */
export interface ClusterView {
  replicas: Seen<ReplicaMember>[];
  workers: Seen<WorkerMember>[];
  networks: NetworkHolding[];
}

/** Read the view; entries that do not parse are left out. */
export async function readClusterView(buckets: ClusterBuckets): Promise<ClusterView> {
  const replicas = await entries(buckets.members, "replicas.>", replicaMember);
  const workers = await entries(buckets.members, "workers.>", workerMember);
  const leases = await entries(buckets.chatLeases, ">", chatLeaseValue);
  return {
    replicas: replicas.sort((a, b) => a.startedAt - b.startedAt),
    workers: workers.sort((a, b) => a.worker.localeCompare(b.worker)),
    networks: leases
      .map((l) => ({ network: l.network, replica: l.replica, renewedAt: l.lastHeartbeat, cursor: l.cursor }))
      .sort((a, b) => a.network.localeCompare(b.network)),
  };
}

async function entries<T>(kv: KV, filter: string, schema: z.ZodType<T>): Promise<Seen<T>[]> {
  const keys: string[] = [];
  for await (const key of await kv.keys(filter)) keys.push(key);
  const found: Seen<T>[] = [];
  for (const key of keys) {
    const entry: KvEntry | null = await kv.get(key);
    if (entry?.operation !== "PUT") continue; // deleted, or expired meanwhile
    const decoded = decode(schema, entry.value);
    if (decoded.ok) found.push({ ...decoded.value, lastHeartbeat: entry.created.getTime() });
  }
  return found;
}
