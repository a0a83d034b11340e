/**
 * The shapes of what the API accepts, as zod schemas (the project's one schema library): they
 * validate each request (api-validator.ts) and describe it in /openapi.json. Unknown body fields
 * are refused, like unknown keys in jarvis.yml.
 */
import { z } from "zod";

/** A run id in a path: letters, digits, - and _ only, so no id ever reaches a path or a query as `..`. */
export const runIdParams = z.strictObject({
  id: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, { error: "must be a run id (letters, digits, - and _)" })
    .describe("run id"),
});

const pipelineName = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9_.-]+$/, { error: "must be a pipeline name (see GET /pipelines)" });

const duration = z
  .string()
  .regex(/^[0-9]{1,6}(ms|s|m)?$/, { error: "must be a duration like 30s, 500ms or 2m" })
  .describe("how long to wait for the run to finish, e.g. 30s (at most 5m)");

export const startRunBody = z
  .strictObject({
    pipeline: pipelineName.describe("pipeline name, e.g. deploy"),
    source: z
      .string()
      .min(1)
      .max(1024)
      .optional()
      .describe("design reference: a file in designs.dirs, an https URL, gist:ID or cn=<host>"),
    design: z
      .string()
      .min(1)
      .optional()
      .describe("the design document itself (YAML or JSON text), instead of a source"),
    force: z.boolean().optional().describe("let production:check through (JARVIS_FORCE=1)"),
  })
  .refine((b) => (b.source === undefined) !== (b.design === undefined), {
    error: "give exactly one of source and design",
    path: ["source"],
  });

export const waitQuery = z.strictObject({ wait: duration.optional() });

export const listRunsQuery = z.strictObject({
  host: z.string().min(1).max(253).optional(),
  state: z
    .string()
    .regex(/^(queued|running|succeeded|failed|cancelled)(,(queued|running|succeeded|failed|cancelled))*$/, {
      error: "must be one or more of queued, running, succeeded, failed, cancelled (comma-separated)",
    })
    .optional(),
  pipeline: pipelineName.optional(),
  group: z.string().min(1).max(64).optional(),
  requested_by: z.string().min(1).max(300).optional(),
  since: z.iso
    .datetime({ offset: true, error: "must be an ISO 8601 time, e.g. 2026-12-01T00:00:00Z" })
    .optional(),
  until: z.iso
    .datetime({ offset: true, error: "must be an ISO 8601 time, e.g. 2026-12-01T00:00:00Z" })
    .optional(),
  limit: z
    .string()
    .regex(/^[1-9][0-9]{0,2}$/, { error: "must be a whole number from 1 to 500" })
    .refine((v) => Number(v) <= 500, { error: "must be a whole number from 1 to 500" })
    .optional(),
  cursor: z
    .string()
    .regex(/^[0-9]{1,16}\.[A-Za-z0-9_-]{1,64}$/, { error: "must be the next_cursor of an earlier page" })
    .optional(),
});

export const stepQuery = z.strictObject({
  step: z
    .string()
    .regex(/^[0-9]{1,4}$/, {
      error: "must be a step number (0: the design as loaded, 1: after the first step)",
    })
    .optional(),
});

export const retryBody = z
  .strictObject({
    clipboard: z.string().min(1).optional().describe("an edited clipboard (YAML) to retry with"),
    force: z.boolean().optional(),
  })
  .optional();

export const eventsQuery = z.strictObject({
  format: z.enum(["sse", "ndjson"]).optional(),
  after: z
    .string()
    .regex(/^[0-9]{1,16}$/, { error: "must be an event sequence number" })
    .optional(),
  token: z.string().optional(),
});

export const auditQuery = z.strictObject({
  since: z.iso
    .datetime({ offset: true, error: "must be an ISO 8601 time, e.g. 2026-12-01T00:00:00Z" })
    .optional(),
  identity: z.string().min(1).max(300).optional(),
  limit: z
    .string()
    .regex(/^[1-9][0-9]{0,3}$/, { error: "must be a whole number from 1 to 9999" })
    .optional(),
});

/** Any query that only carries the token (GETs the page links to). */
export const tokenOnlyQuery = z.strictObject({ token: z.string().optional() });
