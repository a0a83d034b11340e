/**
 * One connection following events the store keeps in sequence (a job's, the agents'): the events
 * after the client's last sequence (`Last-Event-ID` or `?after=`), then each new one as a change
 * is heard, until the feed's last event if it has one. The store is the record and a change only a
 * wake-up, so a change heard while a page is being written is read with the next page, never lost;
 * events are pulled at the client's pace (waiting for `drain`), so a slow client holds nothing in
 * memory.
 */
import { once } from "node:events";
import type { ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import type { EventFormat } from "./run-event-stream.js";

const PAGE = 500;
const HEARTBEAT_MS = 15_000;

/** What a stream pulls from. */
export interface PulledFeed<E extends { seq: number }> {
  read(afterSeq: number, limit: number): Promise<E[]>;
  /** Call `wake` whenever an event may have been kept since; the unsubscribe. */
  onChange(wake: () => void): () => void;
  frame(event: E, format: EventFormat): string;
  /** Whether the stream ends with this event (a job's final one). */
  isLast(event: E): boolean;
  /** Resumed after its last event: nothing more comes (asked when a read from the start found nothing). */
  ended(): Promise<boolean>;
}

export interface PulledStreamOptions {
  afterSeq: number;
  format: EventFormat;
  res: ServerResponse;
}

/** Stream until the feed's last event is written or the client goes. */
export async function streamPulledEvents<E extends { seq: number }>(
  feed: PulledFeed<E>,
  o: PulledStreamOptions,
): Promise<void> {
  const { res } = o;
  const stop = new AbortController();
  const closed = once(res, "close").then(() => stop.abort());
  let changed = false;
  let wake: () => void = () => undefined;
  const off = feed.onChange(() => {
    changed = true;
    wake();
  });
  let last = o.afterSeq;
  try {
    for (;;) {
      changed = false;
      const page = await feed.read(last, PAGE);
      for (const event of page) {
        if (res.destroyed) return;
        last = event.seq;
        if (!res.write(feed.frame(event, o.format))) await Promise.race([once(res, "drain"), closed]);
        if (feed.isLast(event)) return;
      }
      if (page.length === PAGE) continue;
      // Set before `changed` is looked at: a change from here on resolves it.
      const heard = new Promise<boolean>((resolve) => (wake = () => resolve(true)));
      if (changed) continue;
      if (page.length === 0 && (await feed.ended())) return;
      const waiting = new AbortController();
      const quiet = sleep(HEARTBEAT_MS, false, {
        signal: AbortSignal.any([stop.signal, waiting.signal]),
      }).catch((err: unknown) => {
        // Only this wait's own abort (woken, or the client went) ends the sleep early.
        if (err instanceof Error && err.name === "AbortError") return true;
        throw err;
      });
      const woken = await Promise.race([heard, quiet]);
      waiting.abort();
      if (stop.signal.aborted) return;
      if (!woken) res.write(o.format === "sse" ? ": keep-alive\n\n" : "\n");
    }
  } finally {
    off();
    stop.abort();
    if (!res.destroyed) res.end();
  }
}
