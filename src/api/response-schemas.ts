/**
 * The shapes of what the API answers, as zod schemas: `status --json`'s run (cli/format.ts's
 * runJson is typed by it, so server and client cannot drift apart), a run's log, clipboard and
 * diff, pages of hosts and runs, schedules, approvals, events and the error body. The remote CLI
 * (src/cli/api-client.ts) checks every answer against them instead of trusting its shape.
 */
import { z } from "zod";

const isoTime = z.string().min(1);
const runState = z.enum(["awaiting_approval", "queued", "running", "succeeded", "failed", "cancelled"]);
const stepState = z.enum(["pending", "running", "ok", "failed", "skipped"]);
const phase = z.enum(["main", "on_failure"]);

/** Where a step stands (protocol.ts StepPosition). */
export const stepPositionSchema = z.object({
  phase,
  index: z.number().int().nonnegative(),
  total: z.number().int().nonnegative(),
  name: z.string(),
});

/** One step of a run as `status --json` shows it. */
export const stepJsonSchema = z.object({
  index: z.number().int().positive(),
  phase,
  name: z.string(),
  state: stepState,
  attempts: z.number().int().nonnegative(),
  duration_ms: z.number().nullable(),
  on_failure: z.boolean(),
  error: z.string().nullable(),
});

/** One decision on a run awaiting approval. */
export const approvalDecisionJsonSchema = z.object({
  verdict: z.enum(["approve", "deny"]),
  by: z.string(),
  person: z.string(),
  reason: z.string(),
  at: isoTime,
});

/** A run as `status --json` shows it; the API adds `id` (the same as `run`). */
export const runJsonSchema = z.object({
  id: z.string().optional(),
  run: z.string(),
  host: z.string(),
  pipeline: z.string(),
  state: runState,
  step: z.object({ index: z.number().int(), total: z.number().int(), name: z.string() }),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  requested_by: z.string(),
  origin: z.string(),
  source: z.string(),
  group: z.string().nullable(),
  after: z.array(z.string()),
  forced: z.boolean(),
  plan: z.boolean(),
  then_apply: z.literal(true).optional(),
  plan_run: z.string().optional(),
  created_at: isoTime,
  started_at: isoTime.nullable(),
  finished_at: isoTime.nullable(),
  approval: z
    .object({
      approvers: z.string(),
      /** null: anyone the ACL lets approve (a plan-then-apply no rule names). */
      role: z.string().nullable(),
      count: z.number().int(),
      expires_at: isoTime,
      notify: z.array(z.string()),
      decisions: z.array(approvalDecisionJsonSchema).optional(),
    })
    .nullable(),
  steps: z.array(stepJsonSchema).optional(),
});
export type RunJson = z.infer<typeof runJsonSchema>;

/** POST /runs: one run, or a cluster's group and its runs. */
export const startedJsonSchema = z.union([
  runJsonSchema,
  z.object({ group: z.string().nullable(), runs: z.array(runJsonSchema) }),
]);

/** GET /runs/{id}/log. */
export const logJsonSchema = z.object({
  run: z.string(),
  lines: z.array(
    z.object({
      seq: z.number().int(),
      step: stepPositionSchema,
      attempt: z.number().int(),
      at: isoTime,
      stream: z.enum(["stderr", "jarvis"]),
      line: z.string(),
    }),
  ),
});

/** GET /runs/{id}/clipboard. */
export const clipboardJsonSchema = z.object({
  run: z.string(),
  step: z.number().int().nullable(),
  clipboard: z.record(z.string(), z.unknown()),
});

/** GET /runs/{id}/diff. */
export const diffJsonSchema = z.object({ run: z.string(), step: z.number().int(), diff: z.string() });

/** GET /runs (a page) and GET /hosts/{host}/runs (a host's history). */
export const runPageJsonSchema = z.object({
  runs: z.array(runJsonSchema),
  next_cursor: z.string().nullable(),
});
export const hostRunsJsonSchema = z.object({
  host: z.string(),
  runs: z.array(runJsonSchema),
  next: z.string().nullable(),
});

/** GET /events and GET /nodes/{host}/events: events newest first; `next` is the older page's `before`. */
export const nodeEventsJsonSchema = z.object({
  host: z.string().optional(),
  events: z.array(
    z.object({
      id: z.string(),
      /** Its place in the order jarvis kept events: a follow resumes after it (`after`, Last-Event-ID). */
      seq: z.number().int(),
      host: z.string(),
      kind: z.string(),
      at: isoTime,
      received_at: isoTime,
      data: z.record(z.string(), z.unknown()),
    }),
  ),
  next: z.string().nullable(),
});
export type NodeEventsJson = z.infer<typeof nodeEventsJsonSchema>;

/** One event of a follow of GET /events or GET /nodes/{host}/events (an NDJSON line, an SSE data). */
export const nodeEventJsonSchema = nodeEventsJsonSchema.shape.events.element;

/** GET /hosts. */
export const hostsJsonSchema = z.object({
  hosts: z.array(
    z.object({ host: z.string(), run_count: z.number().int(), updated_at: isoTime, latest: runJsonSchema }),
  ),
  next: z.string().nullable(),
  total: z.number().int(),
});

/** POST /runs/{id}/replay. */
export const replayedJsonSchema = z.object({ replayed: z.string(), runs: z.array(runJsonSchema) });

/** POST /runs/{id}/approve and /deny. */
export const approvalJsonSchema = z.object({
  verdict: z.enum(["approve", "deny"]),
  outcome: z.enum(["approved", "denied", "already-approved", "recorded"]),
  approvals: z.number().int(),
  needed: z.number().int(),
  run: runJsonSchema,
});

/** A schedule (schedule/schedule-json.ts). */
export const scheduleJsonSchema = z.object({
  id: z.string(),
  pipeline: z.string(),
  source: z.string(),
  at: isoTime.optional(),
  cron: z.string().optional(),
  timezone: z.string().optional(),
  misfire: z.enum(["skip", "once"]),
  force: z.boolean(),
  created_by: z.string(),
  created_at: isoTime,
  next_at: isoTime.nullable(),
  occurrences: z.array(
    z.object({
      at: isoTime,
      action: z.enum(["ran", "skipped"]),
      late: z.boolean(),
      missed_before: z.number().int(),
      run_id: z.string().nullable(),
      error: z.string().nullable(),
      handled_at: isoTime,
      handled_by: z.string(),
    }),
  ),
});
export type ScheduleJson = z.infer<typeof scheduleJsonSchema>;
export const schedulesJsonSchema = z.object({ schedules: z.array(scheduleJsonSchema) });

/** Every failure: `{code, message}` (http-errors.ts). */
export const errorJsonSchema = z.object({ code: z.string().regex(/^E_[A-Z0-9_]+$/), message: z.string() });

const runSummarySchema = z.object({ id: z.string(), state: runState });

/**
 * One event of GET /runs/{id}/events (protocol.ts RunEvent): the fields a follower reads are
 * checked; other kinds of event pass with their common fields, so a newer server's events do not
 * break an older CLI.
 */
export const runEventSchema = z.intersection(
  z.object({
    seq: z.number().int(),
    at: z.number(),
    runId: z.string(),
    host: z.string(),
    origin: z.string(),
  }),
  z.union([
    z.object({ type: z.literal("step-started"), step: stepPositionSchema, attempt: z.number().int() }),
    z.object({
      type: z.literal("step-log"),
      step: stepPositionSchema,
      attempt: z.number().int(),
      stream: z.enum(["stderr", "jarvis"]),
      line: z.string(),
    }),
    z.object({
      type: z.literal("step-retry"),
      step: stepPositionSchema,
      attempt: z.number().int(),
      waitMs: z.number(),
      error: z.string(),
    }),
    z.object({
      type: z.literal("step-finished"),
      step: stepPositionSchema,
      state: z.enum(["ok", "failed", "skipped"]),
      error: z.object({ name: z.string(), code: z.string(), message: z.string() }).nullable(),
    }),
    z.object({ type: z.literal("run-finished"), run: runSummarySchema }),
    z.object({
      type: z.enum([
        "run-queued",
        "run-started",
        "run-cancel-requested",
        "run-awaiting-approval",
        "run-approval",
      ]),
    }),
  ]),
);
export type WireRunEvent = z.infer<typeof runEventSchema>;
