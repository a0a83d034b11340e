/**
 * One watch over the attempt bucket per executor connection. A worker's finished record reaches the
 * waiting attempt the moment nats-server stores it, at the same time as the worker hears its
 * compare-and-set was accepted: a round trip sooner than the worker's report, which it sends only
 * after that. Fencing is unchanged: only the record that won the compare-and-set is ever stored.
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

/** The finished records of the requests someone waits for. */
export interface AttemptWatch {
  /** Call `listener` when request `id` finishes; returns the unsubscribe. */
  onDone(id: string, listener: (record: DoneRecord) => void): () => void;
  stop(): void;
}

/** Wait before watching again after the watch ended by itself. */
const REWATCH_MS = 1000;

/** Watch `kv` for finished records until stopped. */
export function watchAttempts(kv: KV, log: (line: string) => void): AttemptWatch {
  const listeners = new Map<string, (record: DoneRecord) => void>();
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
          if (!listener) continue; // another executor's request, or a claim of ours
          const decoded = decode(attemptRecord, entry.value);
          if (decoded.ok && decoded.value.state === "done") listener(decoded.value);
        }
      } catch (err) {
        if (!stopped) log(`watching the attempt bucket failed (${errorMessage(err)}); watching again`);
      }
      if (!stopped) await sleep(REWATCH_MS);
    }
  };
  void loop();
  return {
    onDone(id, listener) {
      listeners.set(id, listener);
      return () => listeners.delete(id);
    },
    stop() {
      stopped = true;
      current?.stop();
    },
  };
}
