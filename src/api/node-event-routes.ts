/**
 * GET /events and GET /nodes/{host}/events: the events the agents reported (changed files,
 * probes), newest first, kept by jarvis, in pages (`next` is the next page's `before`); the same
 * typed command as chat's `events [host]`. With `?follow=1`, or an Accept of text/event-stream or
 * application/x-ndjson, they are followed live instead, oldest first, as run and job events are:
 * SSE (`id:` = the event's seq, so EventSource resumes with Last-Event-ID) or NDJSON, from `?after=`
 * or Last-Event-ID, else from the newest event kept.
 */
import { z } from "zod";
import type { FastifyReply, FastifyRequest } from "fastify";
import { ApiError, errorMessage } from "../errors.js";
import { callDispatcher } from "./api-call.js";
import { openEventStream, resumeAfter } from "./event-stream-http.js";
import { streamNodeEvents } from "./node-event-stream.js";
import type { EventFormat } from "./run-event-stream.js";
import { hostParams } from "./api-schemas.js";
import { nodeEventJson } from "./node-event-json.js";
import type { ApiApp, ApiContext } from "./api-context.js";
import type { NodeEventsJson } from "./response-schemas.js";

const DEFAULT_EVENTS = 50;

const nodeEventsQuery = z.strictObject({
  limit: z
    .string()
    .regex(/^[0-9]{1,4}$/, { error: "must be a whole number from 1 to 1000" })
    .refine((v) => Number(v) >= 1 && Number(v) <= 1000, { error: "must be a whole number from 1 to 1000" })
    .optional()
    .describe("events to return (default 50)"),
  before: z
    .string()
    .min(1)
    .max(128)
    .optional()
    .describe("the next of an earlier page: events kept before that event"),
  follow: z
    .enum(["1", "true"])
    .optional()
    .describe("follow new events live (SSE, or NDJSON with format=ndjson) instead of a page"),
  format: z.enum(["sse", "ndjson"]).optional().describe("a follow's framing (default: by Accept, else sse)"),
  after: z
    .string()
    .regex(/^[0-9]{1,16}$/, { error: "must be an event seq" })
    .optional()
    .describe("a follow resumes after this seq (else Last-Event-ID, else the newest event)"),
  token: z.string().optional(),
});

type NodeEventsQuery = z.infer<typeof nodeEventsQuery>;

/** The framing of a follow, when the request asks to follow (by ?follow, or by Accept). */
function followFormat(request: FastifyRequest, query: NodeEventsQuery): EventFormat | undefined {
  const accept = request.headers.accept ?? "";
  const byAccept = accept.includes("application/x-ndjson")
    ? "ndjson"
    : accept.includes("text/event-stream")
      ? "sse"
      : undefined;
  if (query.follow === undefined && byAccept === undefined) {
    if (query.format !== undefined || query.after !== undefined)
      throw new ApiError("E_API_INPUT", "format and after are for a follow: add follow=1");
    return undefined;
  }
  if (query.before !== undefined || query.limit !== undefined)
    throw new ApiError(
      "E_API_INPUT",
      "a follow takes no before or limit: it resumes with after (an event's seq)",
    );
  return query.format ?? byAccept ?? "sse";
}

export function registerNodeEventRoutes(app: ApiApp, ctx: ApiContext): void {
  const page = async (
    request: FastifyRequest,
    query: NodeEventsQuery,
    host: string | undefined,
  ): Promise<NodeEventsJson> => {
    const reply = await callDispatcher(
      ctx.dispatcher,
      request,
      {
        verb: "node-events",
        limit: query.limit === undefined ? DEFAULT_EVENTS : Number(query.limit),
        ...(host === undefined ? {} : { host }),
        ...(query.before === undefined ? {} : { before: query.before }),
      },
      "node-events",
    );
    return {
      ...(host === undefined ? {} : { host }),
      events: reply.events.map(nodeEventJson),
      next: reply.next,
    };
  };

  /** A page, or the follow the request asks for (checked by the ACL as a page of the same events). */
  const answer = async (
    request: FastifyRequest,
    reply: FastifyReply,
    query: NodeEventsQuery,
    host: string | undefined,
  ): Promise<NodeEventsJson | undefined> => {
    const format = followFormat(request, query);
    if (format === undefined) return page(request, query, host);
    const resume = query.after !== undefined || request.headers["last-event-id"] !== undefined;
    const afterSeq = resume ? resumeAfter(query.after, request.headers) : undefined;
    await callDispatcher(
      ctx.dispatcher,
      request,
      { verb: "node-events", limit: 1, ...(host === undefined ? {} : { host }) },
      "node-events",
    );
    const nodeEvents = ctx.nodeEvents;
    if (!nodeEvents) throw new Error("node events were listed without a store to follow them in");
    const from = afterSeq ?? (await nodeEvents.store.latestNodeEventSeq());
    const res = openEventStream(reply, format);
    try {
      await streamNodeEvents({ ...nodeEvents, host, afterSeq: from, format, res });
    } catch (err) {
      ctx.log(`api: following the events of ${host ?? "every node"} ended: ${errorMessage(err)}`);
      res.destroy();
    }
    return undefined;
  };

  app.get(
    "/events",
    {
      schema: {
        summary:
          "Every node's latest events (changed files, probes), newest first, paged (pass next as before); or followed live with follow=1 (SSE, or format=ndjson), resumable with Last-Event-ID",
        querystring: nodeEventsQuery,
      },
    },
    async (request, reply) => answer(request, reply, request.query, undefined),
  );

  app.get(
    "/nodes/:host/events",
    {
      schema: {
        summary:
          "A node's latest events (changed files, probes), newest first, paged (pass next as before); or followed live with follow=1 (SSE, or format=ndjson), resumable with Last-Event-ID",
        params: hostParams,
        querystring: nodeEventsQuery,
      },
    },
    async (request, reply) => answer(request, reply, request.query, request.params.host),
  );
}
