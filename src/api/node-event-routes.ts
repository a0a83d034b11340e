/**
 * GET /nodes/{host}/events: the events a node's agent reported (changed files, probes), newest
 * first, kept by jarvis; the same typed command as chat's `events <host>`.
 */
import { z } from "zod";
import { callDispatcher } from "./api-call.js";
import { hostParams } from "./api-schemas.js";
import type { ApiApp, ApiContext } from "./api-context.js";

const DEFAULT_EVENTS = 50;

const nodeEventsQuery = z.strictObject({
  limit: z
    .string()
    .regex(/^[0-9]{1,4}$/, { error: "must be a whole number from 1 to 1000" })
    .refine((v) => Number(v) >= 1 && Number(v) <= 1000, { error: "must be a whole number from 1 to 1000" })
    .optional()
    .describe("events to return (default 50)"),
  token: z.string().optional(),
});

export function registerNodeEventRoutes(app: ApiApp, ctx: ApiContext): void {
  app.get(
    "/nodes/:host/events",
    {
      schema: {
        summary: "A node's latest events (changed files, probes), newest first",
        params: hostParams,
        querystring: nodeEventsQuery,
      },
    },
    async (request) => {
      const { limit } = request.query;
      const reply = await callDispatcher(
        ctx.dispatcher,
        request,
        {
          verb: "node-events",
          host: request.params.host,
          limit: limit === undefined ? DEFAULT_EVENTS : Number(limit),
        },
        "node-events",
      );
      return {
        host: request.params.host,
        events: reply.events.map((e) => ({
          id: e.id,
          kind: e.kind,
          at: new Date(e.at).toISOString(),
          received_at: new Date(e.receivedAt).toISOString(),
          data: e.data,
        })),
      };
    },
  );
}
