/**
 * The right to speak for one chat network: only the replica holding a network's lease connects to
 * it, hears its commands and says run progress there. The lease carries a cursor into the run
 * feed, advanced once a line is on the wire, so a replica taking a network over continues where
 * its predecessor stopped: no line said twice, none skipped (see docs/scale-out.md for the one
 * window where a line can be said twice).
 */

import type { NetworkFollow } from "./cluster-buckets.js";

/** A held network. */
export interface ChatLease {
  readonly network: string;
  /** The feed sequence to continue after (events up to it were said, or were not this network's). */
  readonly cursor: number;
  /** What the network's rooms followed when this replica took it: followed on here. */
  readonly follows: readonly NetworkFollow[];
  /** Record what the network's rooms follow now (written at once; lost with the lease). */
  setFollows(follows: readonly NetworkFollow[]): void;
  /** Aborted when the lease is lost (taken over, or not renewed in time): stop speaking at once. */
  readonly lost: AbortSignal;
  /** Note that events up to `seq` concern no room of this network (written with the next write). */
  passed(seq: number): void;
  /** Record durably that events up to `seq` were said; false when the lease was lost meanwhile. */
  said(seq: number): Promise<boolean>;
  /** Give the network up for another replica to take at once (a clean stop). */
  release(): Promise<void>;
}

/** Hands out network leases. */
export interface ChatLeaser {
  /**
   * Whether acquire answers at once (one replica: every network is its own) or may wait for
   * another replica to let go.
   */
  readonly immediate: boolean;
  /** Wait until this replica holds `network`; undefined once `signal` aborts first. */
  acquire(network: string, signal: AbortSignal): Promise<ChatLease | undefined>;
}

/**
 * Without a cluster every network is this process's: the cursor starts at the feed's end when the
 * network is taken and lives in memory with the follows (a restart says only what happens from
 * then on, and rooms say `follow` again).
 */
export class LocalChatLeaser implements ChatLeaser {
  readonly immediate = true;

  constructor(private readonly latestSeq: () => Promise<number>) {}

  async acquire(network: string, signal: AbortSignal): Promise<ChatLease | undefined> {
    if (signal.aborted) return undefined;
    let cursor = await this.latestSeq();
    const lost = new AbortController();
    return {
      network,
      get cursor() {
        return cursor;
      },
      lost: lost.signal,
      follows: [],
      setFollows: () => undefined,
      passed: (seq) => void (cursor = seq),
      said: async (seq) => {
        cursor = seq;
        return true;
      },
      release: async () => lost.abort(),
    };
  }
}
