/**
 * GET /events and GET /nodes/{host}/events: the events the agents reported (changed files,
 * probes), newest first, kept by jarvis, in pages (`next` is the next page's `before`); the same
 * typed command as chat's `events [host]`.
 */
import { z } from "zod";
import type { FastifyRequest } from "fastify";
import { callDispatcher } from "./api-call.js";
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
  token: z.string().optional(),
});

export function registerNodeEventRoutes(app: ApiApp, ctx: ApiContext): void {
  const page = async (
    request: FastifyRequest,
    query: z.infer<typeof nodeEventsQuery>,
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

  app.get(
    "/events",
    {
      schema: {
        summary:
          "Every node's latest events (changed files, probes), newest first, paged (pass next as before)",
        querystring: nodeEventsQuery,
      },
    },
    async (request) => page(request, request.query, undefined),
  );

  app.get(
    "/nodes/:host/events",
    {
      schema: {
        summary: "A node's latest events (changed files, probes), newest first, paged (pass next as before)",
        params: hostParams,
        querystring: nodeEventsQuery,
      },
    },
    async (request) => page(request, request.query, request.params.host),
  );
}
