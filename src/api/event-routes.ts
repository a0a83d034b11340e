/**
 * GET /runs/{id}/events: the run's event feed as Server-Sent Events (`id:` = feed sequence, so
 * EventSource resumes with Last-Event-ID), or `?format=ndjson` as chunked newline-delimited JSON
 * for curl; `?after=N` resumes too. Ends when the run ends. The dispatcher checks the caller may
 * read the run's log (and audits it) before anything is streamed.
 */
import { errorMessage } from "../errors.js";
import { callDispatcher } from "./api-call.js";
import { openEventStream, resumeAfter } from "./event-stream-http.js";
import { eventsQuery, runIdParams } from "./api-schemas.js";
import { streamRunEvents } from "./run-event-stream.js";
import type { ApiApp, ApiContext } from "./api-context.js";

/** Register the events route. */
export function registerEventRoutes(app: ApiApp, ctx: ApiContext): void {
  app.get(
    "/runs/:id/events",
    {
      schema: {
        summary: "Follow the run's events live (SSE, or ?format=ndjson), resumable with Last-Event-ID",
        params: runIdParams,
        querystring: eventsQuery,
      },
    },
    async (request, reply) => {
      const afterSeq = resumeAfter(request.query.after, request.headers);
      const { run } = await callDispatcher(
        ctx.dispatcher,
        request,
        { verb: "events", target: { run: request.params.id } },
        "event-stream",
      );
      const format = request.query.format ?? "sse";
      const res = openEventStream(reply, format);
      try {
        await streamRunEvents({
          hub: ctx.hub,
          control: ctx.control,
          runId: run.id,
          afterSeq,
          format,
          res,
        });
      } catch (err) {
        ctx.log(`api: following run ${run.id} ended: ${errorMessage(err)}`);
        res.destroy();
      }
    },
  );
}
