/**
 * One connection following one job (pulled-event-stream.ts): its events from the store after the
 * client's last sequence, woken by the job controller's changes, until the job's final event.
 */
import type { ServerResponse } from "node:http";
import type { Redactor } from "../clipboard/redact.js";
import type { JobDesk } from "../commands/job-execute.js";
import type { JobEvent } from "../jobs/job-store.js";
import { jobEventJson } from "./job-json.js";
import { streamPulledEvents } from "./pulled-event-stream.js";
import type { EventFormat } from "./run-event-stream.js";

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
export function streamJobEvents(o: JobEventStreamOptions): Promise<void> {
  const { desk, jobId } = o;
  return streamPulledEvents(
    {
      read: (after, limit) => desk.store.jobEvents(jobId, after, limit),
      onChange: (wake) =>
        desk.controller.onChange((change) => {
          if (change.jobId === jobId) wake();
        }),
      frame: (event, format) => jobEventFrame(event, format, o.redactor),
      isLast: (event) => event.final,
      ended: async () => (await desk.controller.get(jobId)).job.finishedAt !== null,
    },
    o,
  );
}
