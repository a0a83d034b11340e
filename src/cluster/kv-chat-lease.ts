/**
 * Chat network leases in a JetStream KV bucket (nats-server 2.9: no per-key TTL). Every write is a
 * compare-and-set on the key's revision, so two replicas never both believe they took a network.
 *
 * Expiry is judged without comparing clocks between machines: the holder rewrites its key every
 * third of the lease; a contender that sees the same revision unchanged for a whole lease, timed
 * on its own monotonic clock from when it first saw it, takes the key over by compare-and-set on
 * that revision. The holder counts its lease from the moment it *sent* its last successful write
 * (before the contender could have seen that revision) and stops speaking a margin before the
 * lease ends, so the two never speak at once as long as their clocks run at the same rate (wall
 * clocks may differ by any amount). Bucket max_age cannot do this: it would also drop the cursor.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { performance } from "node:perf_hooks";
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import type { KV, KvEntry } from "@nats-io/kv";
import { errorMessage } from "../errors.js";
import { decode, encode } from "../pipeline/executors/nats-wire.js";
import { chatLeaseKey, chatLeaseValue } from "./cluster-buckets.js";
import type { ChatLeaseValue, NetworkFollow } from "./cluster-buckets.js";
import type { ChatLease, ChatLeaser } from "./chat-lease.js";

/** Options for KvChatLeaser. */
export interface KvChatLeaserOptions {
  kv: KV;
  /** This replica's id, written as the holder. */
  replica: string;
  /** How long a lease lasts without a write. */
  leaseMs: number;
  /** Where a network starts when nobody ever held it: the feed's end. */
  latestSeq: () => Promise<number>;
  log: (line: string) => void;
}

/** How often a contender looks at a held key. */
const LOOK_MS = 1_000;

/** Hands out network leases from the bucket. */
export class KvChatLeaser implements ChatLeaser {
  readonly immediate = false;

  constructor(private readonly options: KvChatLeaserOptions) {}

  async acquire(network: string, signal: AbortSignal): Promise<ChatLease | undefined> {
    const { kv, replica, leaseMs, log } = this.options;
    const key = chatLeaseKey(network);
    let seen: { revision: number; since: number } | undefined;
    while (!signal.aborted) {
      try {
        const entry = await kv.get(key);
        const value = entry?.operation === "PUT" ? valueOf(entry, log) : undefined;
        const sent = performance.now();
        if (!entry || entry.operation !== "PUT") {
          const cursor = await this.options.latestSeq();
          const revision = await kv.create(key, encode(leaseValue(network, replica, cursor, [])));
          return new KvChatLease(this.options, network, key, revision, cursor, [], sent);
        }
        const holder = value?.replica ?? null;
        if (holder !== null && holder !== replica) {
          if (seen?.revision !== entry.revision)
            seen = { revision: entry.revision, since: performance.now() };
          if (performance.now() - seen.since < leaseMs) {
            if (!(await pause(signal))) return undefined;
            continue;
          }
          log(`chat ${network}: replica ${holder} stopped renewing its lease; taking the network over`);
        }
        // A value that does not parse was written by something else: start from the feed's end.
        const cursor = value?.cursor ?? (await this.options.latestSeq());
        const follows = value?.follows ?? [];
        const revision = await kv.update(
          key,
          encode(leaseValue(network, replica, cursor, follows)),
          entry.revision,
        );
        return new KvChatLease(this.options, network, key, revision, cursor, follows, sent);
      } catch (err) {
        // Another replica wrote first: look again. Anything else (NATS away) is said, then retried.
        if (!isRevisionConflict(err))
          log(`chat ${network}: lease not readable (${errorMessage(err)}); trying again`);
        if (!(await pause(signal))) return undefined;
      }
    }
    return undefined;
  }
}

/** Wait LOOK_MS; false when `signal` aborted meanwhile. */
async function pause(signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(LOOK_MS, undefined, { signal });
    return true;
  } catch (err) {
    if (signal.aborted) return false;
    throw err;
  }
}

function leaseValue(
  network: string,
  replica: string | null,
  cursor: number,
  follows: readonly NetworkFollow[],
): ChatLeaseValue {
  return { network, replica, cursor, follows: [...follows] };
}

function valueOf(entry: KvEntry, log: (line: string) => void): ChatLeaseValue | undefined {
  const decoded = decode(chatLeaseValue, entry.value);
  if (decoded.ok) return decoded.value;
  log(`chat lease ${entry.key} holds no lease (${decoded.why}); it is taken over as free`);
  return undefined;
}

function isRevisionConflict(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence ||
      err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

/** The holder stops this long before its lease could be taken: a line in flight lands in time. */
const STOP_MARGIN_FRACTION = 0.2;

/** A held network lease: renewed every third of the lease, every write fenced by revision. */
class KvChatLease implements ChatLease {
  private readonly lostController = new AbortController();
  private readonly renewTimer: NodeJS.Timeout;
  private readonly watchdog: NodeJS.Timeout;
  /** Writes one after the other: each needs the revision the previous one made. */
  private chain: Promise<unknown> = Promise.resolve();
  private validUntil: number;
  readonly follows: readonly NetworkFollow[];

  constructor(
    private readonly options: KvChatLeaserOptions,
    readonly network: string,
    private readonly key: string,
    private revision: number,
    private position: number,
    private current: readonly NetworkFollow[],
    sentAt: number,
  ) {
    this.follows = current;
    this.validUntil = this.deadlineFrom(sentAt);
    this.renewTimer = setInterval(() => void this.write(), options.leaseMs / 3);
    // Writes may hang while NATS is away; the lease ends on time whatever they do.
    this.watchdog = setInterval(() => {
      if (performance.now() > this.validUntil) this.lose("not renewed in time (is NATS reachable?)");
    }, 250);
  }

  get cursor(): number {
    return this.position;
  }

  get lost(): AbortSignal {
    return this.lostController.signal;
  }

  passed(seq: number): void {
    this.position = Math.max(this.position, seq);
  }

  setFollows(follows: readonly NetworkFollow[]): void {
    this.current = follows;
    void this.write();
  }

  async said(seq: number): Promise<boolean> {
    this.passed(seq);
    return this.write();
  }

  async release(): Promise<void> {
    this.stopTimers();
    await this.chain;
    if (this.lost.aborted) return;
    this.lostController.abort();
    try {
      await this.options.kv.update(
        this.key,
        encode(leaseValue(this.network, null, this.position, this.current)),
        this.revision,
      );
    } catch (err) {
      this.options.log(
        `chat ${this.network}: lease not handed back (${errorMessage(err)}); another replica takes the network once it expires`,
      );
    }
  }

  private write(): Promise<boolean> {
    const next = this.chain.then(async () => {
      if (this.lost.aborted) return false;
      const sent = performance.now();
      try {
        this.revision = await this.options.kv.update(
          this.key,
          encode(leaseValue(this.network, this.options.replica, this.position, this.current)),
          this.revision,
        );
        this.validUntil = this.deadlineFrom(sent);
        return true;
      } catch (err) {
        if (isRevisionConflict(err)) this.lose("another replica took the network over");
        else if (performance.now() > this.validUntil) this.lose(`not renewed in time (${errorMessage(err)})`);
        return !this.lost.aborted;
      }
    });
    this.chain = next;
    return next;
  }

  private deadlineFrom(sentAt: number): number {
    return sentAt + this.options.leaseMs * (1 - STOP_MARGIN_FRACTION);
  }

  private lose(why: string): void {
    if (this.lost.aborted) return;
    this.stopTimers();
    this.options.log(`chat ${this.network}: lease lost: ${why}; leaving the network`);
    this.lostController.abort();
  }

  private stopTimers(): void {
    clearInterval(this.renewTimer);
    clearInterval(this.watchdog);
  }
}
