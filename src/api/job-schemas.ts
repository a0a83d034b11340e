/**
 * The /jobs request shapes (zod: they validate and describe /openapi.json). A job's `where` and
 * `targets` are checked here by the selector parser itself, so a 400 names the field and the column.
 */
import { z } from "zod";
import { Operation } from "../agent/protocol.js";
import { errorMessage } from "../errors.js";
import { MAX_SELECTOR_LENGTH, hostPattern, parseSelector } from "../inventory/selector-parser.js";

/** The operations a job may ask for (`cancel` is jarvis's own). */
export const JOB_OPERATIONS = ["ping", "facts", "execute", "service", "script"] as const;

export const jobIdParams = z.strictObject({
  jid: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, { error: "must be a job id (letters, digits, - and _)" })
    .describe("job id"),
});

/** A text the selector parser must accept: its SelectorError (with the column) becomes the issue. */
function parses(check: (text: string) => unknown) {
  return (text: string, ctx: z.RefinementCtx): void => {
    try {
      check(text);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: errorMessage(err) });
    }
  };
}

/** A selector's text, parsed here so a 400 names the column of its first problem. */
const selectorText = z.string().min(1).max(MAX_SELECTOR_LENGTH).superRefine(parses(parseSelector));

const seconds = (what: string) =>
  z
    .number({ error: "must be a number of seconds" })
    .positive({ error: "must be a number of seconds above 0" })
    .max(7 * 24 * 3600, { error: "must be at most 7 days (604800 seconds)" })
    .describe(what);

export const startJobBody = z
  .strictObject({
    operation: z.enum(JOB_OPERATIONS).describe("what each node does"),
    args: z
      .record(z.string(), z.unknown())
      .optional()
      .describe(
        "the operation's arguments: execute {command}, service {name, state: started|stopped|restarted}, script {name, body}; none for ping and facts",
      ),
    targets: z
      .array(z.string().min(1).max(253).superRefine(parses(hostPattern)))
      .min(1)
      .max(10_000)
      .optional()
      .describe("host names or globs (web-*); each must match a node jarvis knows"),
    where: selectorText
      .optional()
      .describe("a selector, e.g. os.family=debian and group=web (docs/agents.md)"),
    batch: z
      .union([
        z.number().int().min(1).max(1_000_000),
        z.string().regex(/^(100|[1-9][0-9]?)%$/, { error: "must be N or N% (1-100%)" }),
      ])
      .optional()
      .describe("nodes per batch, or a percentage of them: a batch starts when the one before has ended"),
    max_failures: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe("failed, unreachable or expired nodes tolerated; one more skips the rest"),
    concurrency: z.number().int().min(1).optional().describe("most nodes in flight at once"),
    timeout: seconds("seconds a node may run the operation (default agents.job_timeout_seconds)").optional(),
    ttl: seconds("seconds a request waits for an offline node (default agents.job_ttl_seconds)").optional(),
  })
  .refine((b) => (b.targets === undefined) !== (b.where === undefined), {
    error: "give exactly one of targets and where",
    path: ["targets"],
  })
  .superRefine((b, ctx) => {
    // The agents' Operation schema strips keys it does not know (a newer jarvis may send more),
    // so a misspelt argument would reach the node as missing, or not at all: refuse it here.
    const expected = argumentsOf(b.operation);
    for (const key of Object.keys(b.args ?? {}).filter((k) => !expected.includes(k)))
      ctx.addIssue({
        code: "custom",
        path: ["args", key],
        message: `unknown key for operation ${b.operation}; expected ${expected.join(", ") || "no args"}`,
      });
    const parsed = Operation.safeParse({ ...(b.args ?? {}), kind: b.operation });
    const [issue] = parsed.success ? [] : parsed.error.issues;
    if (issue)
      ctx.addIssue({
        code: "custom",
        path: ["args", ...issue.path.filter((p): p is string | number => typeof p !== "symbol")],
        message: `${issue.message} (for ${b.operation})`,
      });
  });

export type StartJobBody = z.output<typeof startJobBody>;

/** The argument names of an operation, from the agents' own schema of it. */
export function argumentsOf(operation: (typeof JOB_OPERATIONS)[number]): string[] {
  const shape = Operation.options.find((o) => o.shape.kind.value === operation)?.shape ?? {};
  return Object.keys(shape).filter((k) => k !== "kind");
}

export const jobWaitQuery = z.strictObject({
  wait: z
    .string()
    .regex(/^[0-9]{1,6}(ms|s|m)?$/, { error: "must be a duration like 30s, 500ms or 2m" })
    .optional()
    .describe("how long to wait for the job to end, e.g. 30s (at most 5m): 200 ended, 202 still running"),
});

export const jobShowQuery = z.strictObject({
  outputs: z
    .enum(["0", "1"], { error: "must be 0 or 1" })
    .optional()
    .describe("1: each node's stdout and stderr tail, redacted"),
  token: z.string().optional(),
});

export const jobsQuery = z.strictObject({
  limit: z
    .string()
    .regex(/^[1-9][0-9]{0,2}$/, { error: "must be a whole number from 1 to 500" })
    .refine((v) => Number(v) <= 500, { error: "must be a whole number from 1 to 500" })
    .optional()
    .describe("jobs per page (default 50)"),
  cursor: z
    .string()
    .regex(/^[0-9]{1,16}\.[A-Za-z0-9_-]{1,64}$/, { error: "must be the next_cursor of an earlier page" })
    .optional()
    .describe("the next_cursor of an earlier page: jobs older than it"),
  token: z.string().optional(),
});

/** GET /jobs: the page, and at most one way to narrow it by selector. */
export const jobListQuery = jobsQuery
  .extend({
    where: selectorText
      .optional()
      .describe("jobs that went to any node this selector matches now, e.g. os.family=debian"),
    selector: z
      .string()
      .min(1)
      .max(MAX_SELECTOR_LENGTH)
      .optional()
      .describe("jobs made with exactly this selector as their where (as POST /jobs or chat's 'on' gave it)"),
  })
  .refine((q) => q.where === undefined || q.selector === undefined, {
    error: "give where or selector, not both",
    path: ["where"],
  });

export const rerunBody = z.strictObject({
  only: z
    .enum(["failed", "unreachable", "expired", "all"])
    .describe("which of the job's nodes run again, by how they ended"),
});

export const jobEventsQuery = z.strictObject({
  format: z.enum(["sse", "ndjson"]).optional(),
  after: z
    .string()
    .regex(/^[0-9]{1,16}$/, { error: "must be an event sequence number" })
    .optional()
    .describe("resume after this event (as Last-Event-ID does)"),
  token: z.string().optional(),
});
