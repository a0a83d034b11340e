/**
 * Followers of a SQLite table sleeping until their next poll: what other processes write is found
 * by polling (a cheap indexed read), what this connection writes wakes them at once. A write
 * inside a transaction wakes them synchronously, but they read only after the current synchronous
 * work (the transaction, committed by then) is done, so they never miss what woke them.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { ArmedWait } from "./follow-pages.js";

export class LocalWakeups {
  private sleepers = new Set<() => void>();

  /** Wake every sleeping follower; true, for use in expressions. */
  wake(): true {
    const waking = this.sleepers;
    this.sleepers = new Set();
    for (const resolve of waking) resolve();
    return true;
  }

  /** A wait that ends after `pollMs`, at a wake(), or when its signal aborts (it never throws). */
  arm(pollMs: number): ArmedWait {
    let woken!: () => void;
    const appended = new Promise<void>((resolve) => (woken = resolve));
    this.sleepers.add(woken);
    return {
      wait: async (signal) => {
        const stop = new AbortController();
        try {
          await Promise.race([
            sleep(pollMs, undefined, { signal: AbortSignal.any([signal, stop.signal]) }).catch(
              (err: unknown) => {
                // Only an abort (the follower's, or this wait's own when woken) ends it early.
                if (!(err instanceof Error && err.name === "AbortError")) throw err;
              },
            ),
            appended,
          ]);
        } finally {
          this.sleepers.delete(woken);
          stop.abort();
        }
      },
      cancel: () => this.sleepers.delete(woken),
    };
  }
}
