/** The HTTP side of every event follow (a run's, a job's): where it resumes, and its open response. */
import type { IncomingHttpHeaders, ServerResponse } from "node:http";
import type { FastifyReply } from "fastify";
import { ApiError } from "../errors.js";
import type { EventFormat } from "./run-event-stream.js";

/** The sequence to resume after: `?after=`, else the Last-Event-ID an EventSource sends, else 0. */
export function resumeAfter(after: string | undefined, headers: IncomingHttpHeaders): number {
  const lastEventId = headers["last-event-id"];
  const resumeFrom = after ?? (typeof lastEventId === "string" ? lastEventId : undefined);
  if (resumeFrom !== undefined && !/^[0-9]{1,16}$/.test(resumeFrom))
    throw new ApiError("E_API_INPUT", "header Last-Event-ID must be an event sequence number");
  return resumeFrom === undefined ? 0 : Number(resumeFrom);
}

/** Take the response over from fastify and send the stream's headers at once; the raw response. */
export function openEventStream(reply: FastifyReply, format: EventFormat): ServerResponse {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    "content-type": format === "sse" ? "text/event-stream; charset=utf-8" : "application/x-ndjson",
    "cache-control": "no-store",
    "x-accel-buffering": "no",
    connection: "keep-alive",
  });
  res.flushHeaders();
  return res;
}
