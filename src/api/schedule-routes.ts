/**
 * /schedules: make a future-dated (`at`) or recurring (`cron`) run, list the schedules with what
 * came of their recent occurrences (run and its id, or skipped because missed), delete one. Each
 * handler is one typed command through the dispatcher, so the ACL and the audit are chat's.
 */
import { z } from "zod";
import { callDispatcher } from "./api-call.js";
import type { ApiApp, ApiContext } from "./api-context.js";
import { scheduleJson } from "../schedule/schedule-json.js";

const scheduleBody = z
  .strictObject({
    pipeline: z
      .string()
      .min(1)
      .max(200)
      .regex(/^[A-Za-z0-9_.-]+$/, { error: "must be a pipeline name (see GET /pipelines)" })
      .describe("pipeline name, e.g. deploy"),
    source: z
      .string()
      .min(1)
      .max(1024)
      .describe("design reference: a file in designs.dirs, an https URL, gist:ID or cn=<host>"),
    at: z.string().min(1).max(64).optional().describe("once, at this ISO 8601 time, e.g. 2026-12-24T02:00Z"),
    cron: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .describe('every match of this cron pattern, e.g. "0 3 * * 0"'),
    timezone: z.string().min(1).max(64).optional().describe("IANA timezone of at/cron (default UTC)"),
    misfire: z
      .enum(["skip", "once"])
      .describe("an occurrence missed while jarvis was down: skip it, or run it once late"),
    force: z.boolean().optional().describe("let production:check through (JARVIS_FORCE=1)"),
  })
  .refine((body) => (body.at === undefined) !== (body.cron === undefined), {
    error: "give exactly one of at and cron",
    path: ["at"],
  });

const scheduleIdParams = z.strictObject({
  id: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, { error: "must be a schedule id (letters, digits, - and _)" })
    .describe("schedule id"),
});

/** Register the /schedules routes. */
export function registerScheduleRoutes(app: ApiApp, ctx: ApiContext): void {
  const { dispatcher } = ctx;

  app.post(
    "/schedules",
    {
      schema: {
        summary: "Schedule a pipeline once (at) or recurring (cron); 201 with the schedule",
        body: scheduleBody,
      },
    },
    async (request, reply) => {
      const { pipeline, source, at, cron, timezone, misfire, force } = request.body;
      const zone = timezone ?? null;
      const when = at !== undefined ? { at, timezone: zone } : { cron: cron ?? "", timezone: zone };
      const { schedule } = await callDispatcher(
        dispatcher,
        request,
        { verb: "schedule", pipeline, source, when, misfire, force: force ?? false },
        "scheduled",
      );
      return reply.code(201).send(scheduleJson(schedule));
    },
  );

  app.get(
    "/schedules",
    { schema: { summary: "Every schedule with its next time and its recent occurrences (ran or skipped)" } },
    async (request) => {
      const { schedules } = await callDispatcher(dispatcher, request, { verb: "schedules" }, "schedules");
      return { schedules: schedules.map(scheduleJson) };
    },
  );

  app.delete(
    "/schedules/:id",
    { schema: { summary: "Delete a schedule (404 when there is none)", params: scheduleIdParams } },
    async (request, reply) => {
      await callDispatcher(dispatcher, request, { verb: "unschedule", id: request.params.id }, "unscheduled");
      return reply.code(204).send();
    },
  );
}
