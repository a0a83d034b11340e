/**
 * One connection following one run: the backlog after the client's last seen sequence
 * (`Last-Event-ID`), then live events from the shared FeedHub, each exactly once and in order,
 * until the run ends. The backlog is written at the client's pace (waiting for `drain`); live
 * events cannot wait for one slow client, so a connection whose unsent output passes the high-water
 * mark is closed instead of buffering without bound. The client resumes with its Last-Event-ID,
 * so nothing is lost by it.
 */
import { once } from "node:events";
import type { ServerResponse } from "node:http";
import type { FeedHub } from "./feed-hub.js";
import type { WireEvent } from "./run-event-wire.js";
import type { RunControl } from "../pipeline/run-control.js";

/** How events are framed. */
export type EventFormat = "sse" | "ndjson";

/** Unsent bytes a connection may hold before it is dropped as too slow. */
export const SLOW_CLIENT_BYTES = 1024 * 1024;
/** Live events held for a connection still writing its backlog, before it is dropped. */
const MAX_PENDING_EVENTS = 10_000;
const BACKLOG_PAGE = 500;
const HEARTBEAT_MS = 15_000;
const FINAL_STATES: ReadonlySet<string> = new Set(["succeeded", "failed", "cancelled"]);

/** What one stream needs. */
export interface RunEventStreamOptions {
  hub: FeedHub;
  control: Pick<RunControl, "readEvents" | "latestSeq" | "find">;
  runId: string;
  afterSeq: number;
  format: EventFormat;
  res: ServerResponse;
  highWaterBytes?: number;
}

/** Stream until the run ends or the client goes; resolves when the connection is finished. */
export async function streamRunEvents(options: RunEventStreamOptions): Promise<void> {
  const { hub, control, runId, format, res } = options;
  const highWater = options.highWaterBytes ?? SLOW_CLIENT_BYTES;
  let lastSeq = options.afterSeq;
  let checkSeq = Number.POSITIVE_INFINITY;
  let live = false;
  let finished = false;
  const pending: WireEvent[] = [];
  const closed = once(res, "close").then(() => undefined);
  let endStream: () => void = () => undefined;
  const ended = new Promise<void>((resolve) => (endStream = resolve));

  const finish = (drop: boolean): void => {
    if (finished) return;
    finished = true;
    if (drop) res.destroy();
    else res.end();
    endStream();
  };
  const frame = (event: WireEvent): string => (format === "sse" ? event.sse : event.ndjson);
  /** Write one event if it is new; true when the stream ended with it. */
  const deliver = (event: WireEvent): boolean => {
    if (finished || event.seq <= lastSeq) return finished;
    lastSeq = event.seq;
    res.write(frame(event));
    if (res.writableLength > highWater) {
      finish(true);
      return true;
    }
    if (event.final && event.seq > checkSeq) {
      finish(false);
      return true;
    }
    return false;
  };
  const unsubscribe = await hub.subscribe(runId, (event) => {
    if (live) {
      deliver(event);
    } else if (pending.length >= MAX_PENDING_EVENTS) {
      finish(true);
    } else pending.push(event);
  });
  const heartbeat = setInterval(() => {
    if (!finished) res.write(format === "sse" ? ": keep-alive\n\n" : "\n");
  }, HEARTBEAT_MS);
  heartbeat.unref();
  try {
    // A run-finished before this point belongs to an earlier attempt of a retried run, unless the
    // run is over now: then the stream is the backlog alone.
    checkSeq = await control.latestSeq();
    const terminal = FINAL_STATES.has((await control.find({ kind: "run", runId, host: "" })).state);
    for (;;) {
      if (finished) return;
      const batch = await control.readEvents(lastSeq, { runId, limit: BACKLOG_PAGE });
      for (const event of batch) {
        if (deliver(hub.wire(event))) return;
        if (res.writableNeedDrain) await Promise.race([once(res, "drain"), closed]);
        if (res.destroyed) return finish(true);
      }
      if (batch.length < BACKLOG_PAGE) break;
    }
    if (terminal) return finish(false);
    live = true;
    for (const event of pending.splice(0)) if (deliver(event)) return;
    await Promise.race([ended, closed]);
  } finally {
    clearInterval(heartbeat);
    unsubscribe();
    if (!finished) finish(res.destroyed);
  }
}
