/**
 * One connection following one job: its events from the store after the client's last sequence
 * (`Last-Event-ID` or `?after=`), then each new one as the controller reports a change, until the
 * job's final event. The store is the record and the controller's change only a wake-up, so a
 * change heard while a page is being written is read with the next page, never lost; events are
 * pulled at the client's pace (waiting for `drain`), so a slow client holds nothing in memory.
 */
import { once } from "node:events";
import type { ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import type { Redactor } from "../clipboard/redact.js";
import type { JobDesk } from "../commands/job-execute.js";
import type { JobEvent } from "../jobs/job-store.js";
import { jobEventJson } from "./job-json.js";
import type { EventFormat } from "./run-event-stream.js";

const PAGE = 500;
const HEARTBEAT_MS = 15_000;

export interface JobEventStreamOptions {
  desk: JobDesk;
  jobId: string;
  afterSeq: number;
  format: EventFormat;
  res: ServerResponse;
  redactor: Redactor;
}

export function jobEventFrame(event: JobEvent, format: EventFormat, redactor: Redactor): string {
  const json = JSON.stringify(jobEventJson(event, redactor));
  return format === "sse"
    ? `id: ${event.seq}\nevent: ${event.host === null ? "job" : "node"}\ndata: ${json}\n\n`
    : `${json}\n`;
}

/** Stream until the job's final event is written or the client goes. */
export async function streamJobEvents(o: JobEventStreamOptions): Promise<void> {
  const { desk, jobId, res } = o;
  const stop = new AbortController();
  const closed = once(res, "close").then(() => stop.abort());
  let changed = false;
  let wake: () => void = () => undefined;
  const off = desk.controller.onChange((change) => {
    if (change.jobId !== jobId) return;
    changed = true;
    wake();
  });
  let last = o.afterSeq;
  try {
    for (;;) {
      changed = false;
      const page = await desk.store.jobEvents(jobId, last, PAGE);
      for (const event of page) {
        if (res.destroyed) return;
        last = event.seq;
        if (!res.write(jobEventFrame(event, o.format, o.redactor)))
          await Promise.race([once(res, "drain"), closed]);
        if (event.final) return;
      }
      if (page.length === PAGE) continue;
      // Set before `changed` is looked at: a change from here on resolves it.
      const heard = new Promise<boolean>((resolve) => (wake = () => resolve(true)));
      if (changed) continue;
      // Resumed after the final event: the job is over and nothing more comes.
      if (page.length === 0 && (await desk.controller.get(jobId)).job.finishedAt !== null) return;
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
