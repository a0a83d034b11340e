/**
 * What the NATS executor and `jarvis worker` say to each other, as schemas: the step request on
 * the work queue, the reports back, the attempt record both sides fence on, and the names of the
 * subjects, stream and buckets. Both sides check every message they read against these.
 */
import { z } from "zod";
import { WORKER_TAG_PATTERN } from "../pipeline.js";

/** The JetStream work-queue stream that holds step requests until a worker takes them. */
export const STEP_STREAM = "JARVIS_STEPS";
/** KV bucket of attempt records (who runs a request, and its outcome once done). */
export const ATTEMPT_BUCKET = "jarvis-attempts";
/** Object store for clipboards too big for one message. */
export const CLIPBOARD_BUCKET = "jarvis-clipboards";
/** How long attempt records and stored clipboards are kept: far longer than any step runs. */
export const BUS_RECORD_TTL_MS = 24 * 3600_000;

/** A worker tag: safe as one NATS subject token and in a consumer name. */
export const TAG_PATTERN = WORKER_TAG_PATTERN;

/** Subjects, all under `jarvis.`. */
export const subjects = {
  /** Every step request; the stream captures these. */
  allSteps: "jarvis.steps.>",
  /** Where a request for workers with all of `tags` goes (sorted, no tags: any worker). */
  steps: (tags: readonly string[]): string =>
    tags.length === 0 ? "jarvis.steps.untagged" : `jarvis.steps.tags.${[...tags].sort().join("_")}`,
  /** Live reports (pid, log lines, outcome) for one request. */
  reports: (requestId: string): string => `jarvis.reports.${requestId}`,
  /** Cancel one request now (the attempt record says it too, for a worker that misses this). */
  cancel: (requestId: string): string => `jarvis.cancel.${requestId}`,
  /** A worker's heartbeat. */
  heartbeat: (workerId: string): string => `jarvis.workers.${workerId}`,
} as const;

/** The durable consumer that serves requests for workers with all of `tags`. */
export function consumerName(tags: readonly string[]): string {
  return tags.length === 0 ? "jarvis-steps-untagged" : `jarvis-steps-tags-${[...tags].sort().join("_")}`;
}

/** A clipboard on the bus: inline in the message, or in the object store with its digest. */
export const wireClipboard = z.union([
  z.strictObject({ inline: z.string() }),
  z.strictObject({
    object: z.string().min(1),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    bytes: z.int().nonnegative(),
  }),
]);
export type WireClipboard = z.infer<typeof wireClipboard>;

/** A StepRequest as it travels: no secrets (the worker resolves them), the clipboard by value or reference. */
export const wireRequest = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_-]+$/),
  runId: z.string(),
  step: z.string(),
  params: z.record(z.string(), z.unknown()),
  clipboard: wireClipboard,
  attempt: z.int().positive(),
  timeoutMs: z.int().positive(),
  forced: z.boolean(),
  runsOn: z.array(z.string().regex(TAG_PATTERN)),
  /** A plan run's step: the worker's local fork runs it with JARVIS_PLAN=1 (or reports it unknown). */
  plan: z.boolean().optional(),
});
export type WireRequest = z.infer<typeof wireRequest>;

const wireError = z.strictObject({
  name: z.string(),
  code: z.string(),
  message: z.string(),
  retryable: z.boolean(),
});

/** How an attempt ended, with the new clipboard by value or reference. */
export const wireOutcome = z.union([
  z.strictObject({ kind: z.literal("ok"), clipboard: wireClipboard.optional(), durationMs: z.number() }),
  z.strictObject({ kind: z.literal("failed"), error: wireError, durationMs: z.number() }),
  z.strictObject({ kind: z.literal("cancelled"), durationMs: z.number() }),
]);
export type WireOutcome = z.infer<typeof wireOutcome>;

/** Who sends a report: `delivery` is JetStream's delivery count, the fence between two workers. */
const sender = { id: z.string(), delivery: z.int().positive(), worker: z.string(), attempt: z.int() };

/** A report from the worker running a request. */
export const wireReport = z.union([
  z.strictObject({ ...sender, type: z.literal("spawned"), pid: z.int() }),
  z.strictObject({ ...sender, type: z.literal("log"), line: z.string() }),
  z.strictObject({ ...sender, type: z.literal("outcome"), outcome: wireOutcome }),
]);
export type WireReport = z.infer<typeof wireReport>;

/**
 * The attempt record in the KV bucket, keyed by request id. Every change is a compare-and-set on
 * its revision, so of two workers holding the same request (one presumed dead, then back) only
 * the one that claimed last can record an outcome.
 */
export const attemptRecord = z.union([
  z.strictObject({ state: z.literal("running"), delivery: z.int().positive(), worker: z.string() }),
  z.strictObject({
    state: z.literal("done"),
    delivery: z.int().positive(),
    worker: z.string(),
    outcome: wireOutcome,
    /** Log lines the worker reported for this delivery: the executor hands on the outcome after them. */
    lines: z.int().nonnegative().optional(),
  }),
  z.strictObject({ state: z.literal("cancelled") }),
]);
export type AttemptRecord = z.infer<typeof attemptRecord>;

/** A worker's heartbeat: what `status --cluster` will show. */
export const wireHeartbeat = z.strictObject({
  worker: z.string(),
  tags: z.array(z.string()),
  inFlight: z.int().nonnegative(),
  at: z.number(),
});
export type WireHeartbeat = z.infer<typeof wireHeartbeat>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** JSON bytes of a message. */
export function encode(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** A message checked against its schema; undefined (and `why` says so) when it is not one. */
export function decode<T>(
  schema: z.ZodType<T>,
  data: Uint8Array,
): { ok: true; value: T } | { ok: false; why: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(data));
  } catch (err) {
    return { ok: false, why: `not JSON (${err instanceof Error ? err.message : String(err)})` };
  }
  const result = schema.safeParse(raw);
  return result.success ? { ok: true, value: result.data } : { ok: false, why: result.error.message };
}
