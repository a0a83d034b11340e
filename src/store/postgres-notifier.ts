/**
 * Wakes the store's feed followers when events are appended, by any process: one LISTEN
 * connection per store, its notifications fanned out in-process to every waiting follower (only
 * those following the notified run, or all runs). While that connection is down a notification may
 * be missed, so followers then poll until it is back, and all of them re-read once it is.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type pg from "pg";

/** The channel appends notify, with the run id as payload. */
export const FEED_CHANNEL = "jarvis_feed";

/** The channel a kept node event notifies, with its host as payload. */
export const NODE_EVENTS_CHANNEL = "jarvis_node_events";

/** What a notifier listens to: the channel, and what its followers follow (for the operator). */
export interface NotifyChannel {
  name: typeof FEED_CHANNEL | typeof NODE_EVENTS_CHANNEL;
  what: string;
}

/** Pause before reconnecting a lost LISTEN connection. */
const RECONNECT_MS = 1000;

/** A follower's registration, made before it reads, so nothing appended after the read is missed. */
export interface FeedWaiter {
  /**
   * Resolves on a notification for the run (or any run), on a LISTEN reconnection, on abort, or,
   * while notifications may be missed, after `pollMs`.
   */
  wait(pollMs: number, signal: AbortSignal): Promise<void>;
  cancel(): void;
}

interface Armed {
  runId: string | undefined;
  wake(): void;
}

export class FeedNotifier {
  private client: pg.Client | undefined;
  private listening = false;
  /** The loss was told to the operator once; not again until notifications were back. */
  private reported = false;
  private connecting: Promise<void> | undefined;
  private closed = false;
  private readonly armed = new Set<Armed>();

  constructor(
    private readonly connect: () => pg.Client,
    private readonly onProblem: (message: string) => void,
    private readonly channel: NotifyChannel = { name: FEED_CHANNEL, what: "run feed" },
  ) {}

  /** Make sure the LISTEN connection is up (or being brought up); never throws. */
  async start(): Promise<void> {
    if (this.closed || this.listening) return;
    this.connecting ??= this.listen().finally(() => (this.connecting = undefined));
    await this.connecting;
  }

  /** A waiter for a notification whose payload is `runId` (a run's id, a node's host), or any. */
  arm(runId: string | undefined): FeedWaiter {
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    const entry: Armed = { runId, wake };
    this.armed.add(entry);
    return {
      wait: async (pollMs, signal) => {
        const onAbort = (): void => wake();
        signal.addEventListener("abort", onAbort, { once: true });
        const poll = new AbortController();
        try {
          const waits: Promise<unknown>[] = [woken];
          // Only without a LISTEN connection can an append go unnoticed.
          if (!this.listening) waits.push(sleep(pollMs, undefined, { signal: poll.signal }));
          await Promise.race(waits);
        } finally {
          poll.abort();
          signal.removeEventListener("abort", onAbort);
          this.armed.delete(entry);
        }
      },
      cancel: () => this.armed.delete(entry),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wakeAll();
    await this.connecting;
    const client = this.client;
    this.client = undefined;
    this.listening = false;
    if (client) await client.end();
  }

  private async listen(): Promise<void> {
    const client = this.connect();
    this.client = client;
    client.on("notification", (message) => this.wake(message.payload));
    client.on("error", (err) => this.lost(client, err));
    client.on("end", () => this.lost(client, undefined));
    try {
      await client.connect();
      await client.query(`LISTEN ${this.channel.name}`);
    } catch (err) {
      this.lost(client, err);
      return;
    }
    if (this.client !== client) return;
    if (this.closed) {
      this.client = undefined;
      await client.end();
      return;
    }
    this.listening = true;
    this.reported = false;
    // Whatever was appended while nobody listened: every follower reads again.
    this.wakeAll();
  }

  private lost(client: pg.Client, err: unknown): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.listening = false;
    if (this.closed) return;
    if (!this.reported) {
      this.reported = true;
      this.onProblem(
        `${this.channel.what} notifications lost (${err instanceof Error ? err.message : "connection closed"}); followers poll until they are back`,
      );
    }
    client.removeAllListeners("notification");
    // Followers waiting for a notification would now wait for ever: wake them to poll.
    this.wakeAll();
    void sleep(RECONNECT_MS, undefined, { ref: false }).then(() => this.start());
  }

  private wake(runId: string | undefined): void {
    for (const entry of this.armed) {
      if (entry.runId === undefined || entry.runId === runId) {
        this.armed.delete(entry);
        entry.wake();
      }
    }
  }

  private wakeAll(): void {
    for (const entry of this.armed) entry.wake();
    this.armed.clear();
  }
}
