/**
 * The attempt record of a request in the KV bucket: the fence between two deliveries of the same
 * request. A worker claims the record for its delivery before it runs the step and records the
 * outcome with a compare-and-set on the revision it claimed: when JetStream redelivered the
 * request to another worker meanwhile (this one stopped heartbeating), the newer claim moved the
 * revision and the late outcome is refused. The executor reads the outcome from here when the live
 * report was lost (nats-server restarted), and marks a request cancelled so no worker starts it.
 */
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { attemptRecord, decode, encode } from "./nats-wire.js";
import type { AttemptRecord, WireOutcome } from "./nats-wire.js";

/** What a worker may do with a delivery. */
export type Claim =
  | { kind: "claimed"; revision: number }
  /** Another delivery already finished it: its outcome stands. */
  | { kind: "done"; record: Extract<AttemptRecord, { state: "done" }> }
  | { kind: "cancelled" }
  /** A newer delivery holds it. */
  | { kind: "superseded"; delivery: number };

/** The record and its revision; undefined when there is none (or it is unreadable). */
export async function readAttempt(
  kv: KV,
  id: string,
): Promise<{ record: AttemptRecord; revision: number } | undefined> {
  const entry = await kv.get(id);
  if (!entry || entry.operation !== "PUT") return undefined;
  const parsed = decode(attemptRecord, entry.value);
  return parsed.ok ? { record: parsed.value, revision: entry.revision } : undefined;
}

/** Claim request `id` for `delivery` by `worker`. */
export async function claimAttempt(kv: KV, id: string, delivery: number, worker: string): Promise<Claim> {
  const mine = encode({ state: "running", delivery, worker } satisfies AttemptRecord);
  // Nearly always no record exists yet: creating it straight away claims the request in one round
  // trip (this is on every step's path); an existing record makes the create fail, and is read.
  const created = await compareAndSet(kv, id, mine, undefined);
  if (created !== undefined) return { kind: "claimed", revision: created };
  for (;;) {
    const current = await readAttempt(kv, id);
    if (current?.record.state === "done") return { kind: "done", record: current.record };
    if (current?.record.state === "cancelled") return { kind: "cancelled" };
    if (current && current.record.delivery > delivery)
      return { kind: "superseded", delivery: current.record.delivery };
    const revision = await compareAndSet(kv, id, mine, current?.revision);
    if (revision !== undefined) return { kind: "claimed", revision };
  }
}

/** Record the outcome if the claim at `revision` still holds; false when a newer claim took over. */
export async function finishAttempt(
  kv: KV,
  id: string,
  revision: number,
  record: { delivery: number; worker: string; outcome: WireOutcome; lines: number },
): Promise<boolean> {
  const done = encode({ state: "done", ...record } satisfies AttemptRecord);
  return (await compareAndSet(kv, id, done, revision)) !== undefined;
}

/**
 * Mark request `id` cancelled unless it already finished; says where it stood: still queued (no
 * worker will start it now), running (its worker stops it), or done or cancelled already.
 */
export async function cancelAttempt(kv: KV, id: string): Promise<"queued" | AttemptRecord["state"]> {
  const cancelled = encode({ state: "cancelled" } satisfies AttemptRecord);
  for (;;) {
    const current = await readAttempt(kv, id);
    if (current?.record.state === "done" || current?.record.state === "cancelled")
      return current.record.state;
    if ((await compareAndSet(kv, id, cancelled, current?.revision)) !== undefined)
      return current ? "running" : "queued";
  }
}

/** Write `value` if the key is still at `revision` (absent when undefined); undefined on a conflict. */
async function compareAndSet(
  kv: KV,
  id: string,
  value: Uint8Array,
  revision: number | undefined,
): Promise<number | undefined> {
  try {
    return revision === undefined ? await kv.create(id, value) : await kv.update(id, value, revision);
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamWrongLastSequence)
      return undefined;
    throw err;
  }
}
