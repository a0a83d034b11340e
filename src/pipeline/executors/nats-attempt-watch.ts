/**
 * One watch over the attempt bucket per executor connection. A worker's claim and finished record
 * reach the waiting attempt the moment nats-server stores them, at the same time as the worker
 * hears its compare-and-set was accepted: the outcome comes a round trip sooner than the worker's
 * report, which it sends only after that, and a claim says which delivery holds the request even
 * when its worker dies before it reports anything. Fencing is unchanged: only the record that won
 * the compare-and-set is ever stored.
 * The watch is a shortcut, not the only way: the executor still takes the report and still reads
 * the record every few seconds, so a watch that stalls (nats-server restarted) costs time, not steps.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { KvWatchInclude } from "@nats-io/kv";
import { errorMessage } from "../../errors.js";
import { attemptRecord, decode } from "./nats-wire.js";
import type { KV } from "@nats-io/kv";
import type { AttemptRecord } from "./nats-wire.js";

/** A finished attempt record. */
export type DoneRecord = Extract<AttemptRecord, { state: "done" }>;

/** The records of the requests someone waits for. */
export interface AttemptWatch {
  /** Call `listener` with each new record of request `id`; returns the unsubscribe. */
  onRecord(id: string, listener: (record: AttemptRecord) => void): () => void;
  stop(): void;
}

/** Wait before watching again after the watch ended by itself. */
const REWATCH_MS = 1000;

/** Watch `kv` until stopped. */
export function watchAttempts(kv: KV, log: (line: string) => void): AttemptWatch {
  const listeners = new Map<string, (record: AttemptRecord) => void>();
  let stopped = false;
  let current: { stop(): void } | undefined;
  const loop = async (): Promise<void> => {
    while (!stopped) {
      try {
        const watch = await kv.watch({ include: KvWatchInclude.UpdatesOnly, ignoreDeletes: true });
        current = watch;
        if (stopped) watch.stop();
        for await (const entry of watch) {
          const listener = listeners.get(entry.key);
          if (!listener) continue; // another executor's request
          const decoded = decode(attemptRecord, entry.value);
          if (decoded.ok) listener(decoded.value);
        }
      } catch (err) {
        if (!stopped) log(`watching the attempt bucket failed (${errorMessage(err)}); watching again`);
      }
      if (!stopped) await sleep(REWATCH_MS);
    }
  };
  void loop();
  return {
    onRecord(id, listener) {
      listeners.set(id, listener);
      return () => listeners.delete(id);
    },
    stop() {
      stopped = true;
      current?.stop();
    },
  };
}
