/**
 * One follower of the agents' kept events for the whole API server, shared by every connection
 * that follows them: it only tells each connection that its node (or any node) has a new event,
 * and the connection reads it from the store at its own pace (pulled-event-stream.ts). Events kept
 * by another service sharing the store wake it too (PostgreSQL notifies, SQLite is polled).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { errorMessage } from "../errors.js";
import type { NodeEventStore } from "../store/node-event-store.js";

/** Told the host of each new event. */
type WatchListener = (host: string) => void;

export class NodeEventWatch {
  private readonly listeners = new Set<WatchListener>();
  private readonly stop = new AbortController();
  private started: Promise<void> | undefined;

  constructor(
    private readonly store: Pick<NodeEventStore, "followNodeEvents" | "latestNodeEventSeq">,
    private readonly log: (line: string) => void,
  ) {}

  /**
   * Hear of every event kept from now on. Resolves once the shared follower runs, so a caller that
   * reads the store afterwards misses nothing between the two.
   */
  async subscribe(listener: WatchListener): Promise<() => void> {
    this.listeners.add(listener);
    this.started ??= this.store.latestNodeEventSeq().then((from) => {
      void this.pump(from);
    });
    try {
      await this.started;
    } catch (err) {
      this.started = undefined;
      this.listeners.delete(listener);
      throw err;
    }
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.stop.abort();
  }

  private async pump(from: number): Promise<void> {
    let seq = from;
    // A store hiccup must not end live following for everyone: log it and follow on from `seq`.
    while (!this.stop.signal.aborted) {
      try {
        for await (const event of this.store.followNodeEvents(seq, { signal: this.stop.signal })) {
          seq = event.seq;
          for (const listener of [...this.listeners]) listener(event.host);
        }
      } catch (err) {
        if (this.stop.signal.aborted) return;
        this.log(`api: following the agents' events failed after seq ${seq}: ${errorMessage(err)}; retrying`);
        await sleep(1000, undefined, { ref: false });
      }
    }
  }
}
