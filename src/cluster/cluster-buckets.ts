/**
 * The JetStream KV buckets replicas and workers share: who holds each chat network (and how far
 * into the run feed it has spoken), and who is alive. Made when missing; nats-server 2.9 keeps them
 * on disk across restarts.
 */
import { Kvm } from "@nats-io/kv";
import type { KV } from "@nats-io/kv";
import type { JetStreamClient } from "@nats-io/jetstream";
import { z } from "zod";

/** One key per chat network: its holder (null: free) and the feed sequence said up to. */
export const CHAT_LEASE_BUCKET = "jarvis-chat-leases";
/**
 * One key per live process (`replicas.<id>`, `workers.<id>`), rewritten every few seconds. Entries
 * older than MEMBER_TTL_MS are dropped by the server (bucket max_age): a process killed with -9
 * vanishes from the view on its own.
 */
export const MEMBER_BUCKET = "jarvis-members";
export const MEMBER_TTL_MS = 60_000;
/** How often replicas and workers rewrite their member entry. */
export const MEMBER_HEARTBEAT_MS = 5_000;

/** What a chat network's lease key holds. */
/** A room's `follow` in a network, carried to the replica that takes the network over. */
export const networkFollow = z.strictObject({
  place: z.strictObject({ room: z.string(), direct: z.boolean() }),
  target: z.union([
    z.strictObject({ kind: z.literal("run"), runId: z.string(), host: z.string() }),
    z.strictObject({ kind: z.literal("host"), host: z.string() }),
  ]),
  /** The run it shows (a followed host's current run), when known. */
  runId: z.string().optional(),
});
export type NetworkFollow = z.infer<typeof networkFollow>;

export const chatLeaseValue = z.strictObject({
  network: z.string(),
  replica: z.string().nullable(),
  /** Every feed event up to this sequence has been said in the network's rooms (or was not theirs). */
  cursor: z.int().nonnegative(),
  /** What the network's rooms follow (absent in leases written before follows were carried). */
  follows: z.array(networkFollow).optional(),
});
export type ChatLeaseValue = z.infer<typeof chatLeaseValue>;

/** A replica's member entry; its last heartbeat is the entry's time on the server. */
export const replicaMember = z.strictObject({
  /** The engine's owner id: the lease owner of the runs this replica executes. */
  id: z.string(),
  host: z.string(),
  pid: z.int(),
  startedAt: z.number(),
  /** The chat networks it speaks for now. */
  networks: z.array(z.string()),
});
export type ReplicaMember = z.infer<typeof replicaMember>;

/** A worker's member entry (the heartbeat it also publishes). */
export const workerMember = z.strictObject({
  worker: z.string(),
  tags: z.array(z.string()),
  inFlight: z.int().nonnegative(),
  at: z.number(),
});
export type WorkerMember = z.infer<typeof workerMember>;

/** The member key of a replica or worker id (ids may hold `:`, keys may not). */
export function memberKey(kind: "replicas" | "workers", id: string): string {
  return `${kind}.${id.replace(/[^A-Za-z0-9_-]/g, "_")}`;
}

/** The two buckets. */
export interface ClusterBuckets {
  chatLeases: KV;
  members: KV;
}

/** Open (making when missing) the cluster buckets. */
export async function openClusterBuckets(js: JetStreamClient): Promise<ClusterBuckets> {
  const kvm = new Kvm(js);
  return {
    chatLeases: await kvm.create(CHAT_LEASE_BUCKET, { history: 1 }),
    members: await kvm.create(MEMBER_BUCKET, { history: 1, ttl: MEMBER_TTL_MS }),
  };
}

/** The lease key of a network: names are free text, keys only `[-/_=.a-zA-Z0-9]` (the value names it). */
export function chatLeaseKey(network: string): string {
  return Buffer.from(network).toString("base64url");
}
