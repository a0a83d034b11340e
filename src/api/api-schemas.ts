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
    plan: z
      .boolean()
      .optional()
      .describe("a plan run: every step reports what it would change and changes nothing"),
    plan_then_apply: z
      .boolean()
      .optional()
      .describe(
        "plan first; the plan run's success creates the apply run, awaiting approval (GET /runs/{plan}'s next run on the host)",
      ),
  })
  .refine((b) => (b.source === undefined) !== (b.design === undefined), {
    error: "give exactly one of source and design",
    path: ["source"],
  })
  .refine((b) => !(b.plan === true && b.plan_then_apply === true), {
    error: "give plan or plan_then_apply, not both",
    path: ["plan_then_apply"],
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

/** A host name in a path or a paging cursor: what a design's `cn` may be, and no `/` or `..`. */
const hostName = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}$/, {
  error: "must be a host name (letters, digits, ., - and _)",
});

const pageLimit = (max: number) =>
  z
    .string()
    .regex(/^[1-9][0-9]{0,3}$/, { error: `must be a whole number from 1 to ${max}` })
    .refine((v) => Number(v) <= max, { error: `must be a whole number from 1 to ${max}` });

export const hostParams = z.strictObject({ host: hostName.describe("host name") });

export const hostsQuery = z.strictObject({
  after: hostName.optional().describe("the next of an earlier page: hosts named after it"),
  limit: pageLimit(1000).optional().describe("hosts per page (default 100)"),
  token: z.string().optional(),
});

export const hostRunsQuery = z.strictObject({
  before: runIdParams.shape.id.optional().describe("the next of an earlier page: runs older than it"),
  limit: pageLimit(500).optional().describe("runs per page (default 50)"),
  token: z.string().optional(),
});

export const nodesQuery = z.strictObject({
  where: z
    .string()
    .min(1)
    .max(2000)
    .optional()
    .describe("a selector, e.g. os.family=debian and group=web (docs/inventory.md)"),
  token: z.string().optional(),
});

export const replayBody = z
  .strictObject({
    hosts: z
      .array(hostName)
      .min(1)
      .max(100)
      .optional()
      .describe("hosts to replay on: each host's design is its latest run's source, else cn=<host>"),
    sources: z
      .array(z.string().min(1).max(1024))
      .min(1)
      .max(100)
      .optional()
      .describe("design references to replay on, as POST /runs takes them"),
  })
  .refine((b) => (b.hosts === undefined) !== (b.sources === undefined), {
    error: "give exactly one of hosts and sources",
    path: ["hosts"],
  });

export const denyBody = z.strictObject({
  reason: z.string().min(1).max(500).describe("why: recorded with the decision and told to the requester"),
});
