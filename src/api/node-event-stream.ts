/**
 * One connection following the agents' events (pulled-event-stream.ts): every node's, or one
 * node's, read from the store after the client's last seq, woken by the server's shared watch.
 * The feed has no end: the stream goes on until the client goes.
 */
import type { ServerResponse } from "node:http";
import type { NodeEventRecord, NodeEventStore } from "../store/node-event-store.js";
import { nodeEventJson } from "./node-event-json.js";
import type { NodeEventWatch } from "./node-event-watch.js";
import { streamPulledEvents } from "./pulled-event-stream.js";
import type { EventFormat } from "./run-event-stream.js";

export interface NodeEventStreamOptions {
  store: NodeEventStore;
  watch: NodeEventWatch;
  host: string | undefined;
  afterSeq: number;
  format: EventFormat;
  res: ServerResponse;
}

export function nodeEventFrame(event: NodeEventRecord, format: EventFormat): string {
  const json = JSON.stringify(nodeEventJson(event));
  return format === "sse" ? `id: ${event.seq}\nevent: node-event\ndata: ${json}\n\n` : `${json}\n`;
}

/** Stream until the client goes. */
export async function streamNodeEvents(o: NodeEventStreamOptions): Promise<void> {
  const { store, host } = o;
  const listeners = new Set<() => void>();
  // Subscribed before the first read, so an event kept while it reads still wakes the stream.
  const unsubscribe = await o.watch.subscribe((eventHost) => {
    if (host === undefined || eventHost === host) for (const wake of listeners) wake();
  });
  try {
    await streamPulledEvents(
      {
        read: (after, limit) =>
          store.nodeEventsAfter(after, { ...(host === undefined ? {} : { host }), limit }),
        onChange: (wake) => {
          listeners.add(wake);
          return () => listeners.delete(wake);
        },
        frame: nodeEventFrame,
        isLast: () => false,
        ended: async () => false,
      },
      o,
    );
  } finally {
    unsubscribe();
  }
}
