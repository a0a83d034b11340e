/**
 * `jarvis job ...` and `jarvis jobs`: jobs on the agents, through the running service's HTTP API
 * (api-client.ts), since only the service reads the agents' replies. Hosts are given as words
 * (names or globs, the API's `targets`) or as `--where SELECTOR`; a new job is followed to its end
 * (each node's state as it changes), then shown with each node's exit code and output tail.
 */
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { z } from "zod";
import { errorMessage } from "../errors.js";
import { EXIT } from "./exit-codes.js";
import { defineCommand, positiveInteger, usageError } from "./command.js";
import type { CliCommand, CommandContext } from "./command.js";
import { serviceClient } from "./with-backend.js";
import type { ApiClient } from "./api-client.js";

const NodeBody = z.looseObject({
  host: z.string(),
  state: z.string(),
  exit_code: z.number().nullable(),
  message: z.string(),
  received_at: z.string().nullable(),
  stdout_tail: z.string().optional(),
  stderr_tail: z.string().optional(),
});
const JobBody = z.looseObject({
  jid: z.string(),
  state: z.string(),
  operation: z.looseObject({ kind: z.string() }),
  created_at: z.string(),
  requested_by: z.string(),
  nodes: z.array(NodeBody).optional(),
});
const JobPage = z.object({ jobs: z.array(JobBody), next_cursor: z.string().nullable() });
const JobEventLine = z.looseObject({
  host: z.string().nullable(),
  state: z.string(),
  exit_code: z.number().nullable(),
});

type JobView = z.infer<typeof JobBody>;

const jobOptions = {
  where: { type: "string" },
  batch: { type: "string" },
  "max-failures": { type: "string" },
  concurrency: { type: "string" },
  timeout: { type: "string" },
  ttl: { type: "string" },
  "no-wait": { type: "boolean", default: false },
  only: { type: "string" },
  outputs: { type: "boolean", default: false },
  json: { type: "boolean", default: false },
} as const;

type JobFlags = {
  where?: string | undefined;
  batch?: string | undefined;
  "max-failures"?: string | undefined;
  concurrency?: string | undefined;
  timeout?: string | undefined;
  ttl?: string | undefined;
  "no-wait"?: boolean | undefined;
  only?: string | undefined;
  outputs?: boolean | undefined;
  json?: boolean | undefined;
};

const USAGE =
  'job ping|facts|run "<command>"|service <name> started|stopped|restarted|script <file> (--where SELECTOR | HOST...) [--batch N|N%] [--max-failures N] [--concurrency N] [--timeout S] [--ttl S] [--no-wait] [--json] | job status|cancel|delete <jid> | job rerun <jid> [--only failed|unreachable|expired|all]';

export const jobCommands: Record<string, CliCommand> = {
  job: defineCommand({
    usage: USAGE,
    summary:
      "run an operation on the agents (through the running service's API), or show, cancel, rerun a job",
    options: jobOptions,
    remote: true,
    run: async (ctx) => {
      const [action = "", ...rest] = ctx.args;
      const client = serviceClient(ctx);
      switch (action) {
        case "status":
          return show(ctx, client, oneJob(rest, "status"));
        case "cancel": {
          printJob(
            ctx,
            await client.post(`/jobs/${oneJob(rest, "cancel")}/cancel`, undefined, JobBody),
            false,
          );
          return EXIT.ok;
        }
        case "delete":
          await client.delete(`/jobs/${oneJob(rest, "delete")}`);
          if (!ctx.flags.json) ctx.out(`job ${rest[0] ?? ""} deleted`);
          return EXIT.ok;
        case "rerun": {
          const only = ctx.flags.only ?? "failed";
          return follow(
            ctx,
            client,
            await client.post(`/jobs/${oneJob(rest, "rerun")}/rerun`, { only }, JobBody),
          );
        }
        default: {
          return follow(
            ctx,
            client,
            await client.post("/jobs", jobRequest(action, rest, ctx.flags), JobBody),
          );
        }
      }
    },
  }),
  jobs: defineCommand({
    usage: "jobs [--host HOST | --where SELECTOR | --selector SELECTOR] [--limit N] [--cursor C] [--json]",
    summary:
      "the jobs on the agents, newest first: of a host, of the nodes a selector matches now (--where), or made with a selector (--selector)",
    options: {
      host: { type: "string" },
      where: { type: "string" },
      selector: { type: "string" },
      limit: { type: "string" },
      cursor: { type: "string" },
      json: { type: "boolean", default: false },
    },
    remote: true,
    run: async (ctx) => {
      if (ctx.args.length > 0)
        throw usageError(
          "jobs takes no arguments; one host's jobs: --host HOST, a selector's: --where SELECTOR",
        );
      const { host, where, selector } = ctx.flags;
      if ([host, where, selector].filter((f) => f !== undefined).length > 1)
        throw usageError("give one of --host, --where and --selector");
      const limit = positiveInteger(ctx.flags.limit, "--limit", 50);
      const path = host === undefined ? "/jobs" : `/nodes/${encodeURIComponent(host)}/jobs`;
      const page = await serviceClient(ctx).get(path, JobPage, {
        limit,
        cursor: ctx.flags.cursor,
        where,
        selector,
      });
      if (ctx.flags.json) {
        ctx.out(JSON.stringify(page, null, 2));
        return EXIT.ok;
      }
      if (page.jobs.length === 0) ctx.out("no jobs yet");
      for (const job of page.jobs)
        ctx.out(
          `${job.jid}  ${job.created_at}  ${job.operation.kind.padEnd(8)} ${job.state.padEnd(9)} ${job.requested_by}`,
        );
      if (page.next_cursor) ctx.out(`more: jarvis jobs --cursor ${page.next_cursor}`);
      return EXIT.ok;
    },
  }),
};

function oneJob(rest: string[], what: string): string {
  const [jid] = rest;
  if (!jid || rest.length > 1) throw usageError(`job ${what} takes one job id`);
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(jid)) throw usageError(`'${jid.slice(0, 40)}' is not a job id`);
  return jid;
}

/** The POST /jobs body of `job <operation> <args...> <hosts...>`. */
function jobRequest(operation: string, words: string[], flags: JobFlags): Record<string, unknown> {
  const [first, second, ...more] = words;
  let args: Record<string, unknown> | undefined;
  let hosts: string[];
  switch (operation) {
    case "ping":
    case "facts":
      hosts = words;
      break;
    case "run":
    case "execute":
      if (!first)
        throw usageError(`job ${operation} needs the command, quoted: job run "apt-get -s upgrade" ...`);
      args = { command: first };
      hosts = words.slice(1);
      break;
    case "service":
      if (!first || !second)
        throw usageError("job service needs the service and its state: job service nginx restarted ...");
      args = { name: first, state: second };
      hosts = more;
      break;
    case "script":
      if (!first) throw usageError("job script needs the script's file: job script ./check.sh ...");
      args = { name: basename(first), body: readScript(first) };
      hosts = words.slice(1);
      break;
    default:
      throw usageError(
        `'${operation.slice(0, 20)}' is no job operation; give ping, facts, run, service or script, or status, cancel, rerun, delete`,
      );
  }
  if ((flags.where === undefined) === (hosts.length === 0))
    throw usageError("name the nodes: hosts or globs (web-1 'db-*'), or --where SELECTOR, not both");
  const seconds = (raw: string | undefined, option: string) =>
    raw === undefined ? undefined : positiveInteger(raw, option, 0);
  const batch = flags.batch;
  return {
    operation: operation === "run" ? "execute" : operation,
    ...(args ? { args } : {}),
    ...(flags.where === undefined ? { targets: hosts } : { where: flags.where }),
    ...(batch === undefined
      ? {}
      : { batch: batch.endsWith("%") ? batch : positiveInteger(batch, "--batch", 1) }),
    ...(flags["max-failures"] === undefined ? {} : { max_failures: nonNegative(flags["max-failures"]) }),
    ...(flags.concurrency === undefined
      ? {}
      : { concurrency: positiveInteger(flags.concurrency, "--concurrency", 1) }),
    ...(flags.timeout === undefined ? {} : { timeout: seconds(flags.timeout, "--timeout") }),
    ...(flags.ttl === undefined ? {} : { ttl: seconds(flags.ttl, "--ttl") }),
  };
}

function nonNegative(raw: string): number {
  if (!/^[0-9]{1,9}$/.test(raw))
    throw usageError(`--max-failures must be a whole number, got '${raw.slice(0, 20)}'`);
  return Number(raw);
}

function readScript(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw usageError(`cannot read the script ${path}: ${errorMessage(err)}`);
  }
}

/** Print each node's state change until the job ends, then the job; its exit code. */
async function follow(ctx: CommandContext<JobFlags>, client: ApiClient, job: JobView): Promise<number> {
  if (!ctx.flags.json) ctx.out(`job ${job.jid} ${job.operation.kind}: ${job.state}`);
  if (ctx.flags["no-wait"]) {
    if (ctx.flags.json) ctx.out(JSON.stringify(job, null, 2));
    return EXIT.ok;
  }
  const events = client.ndjson(
    `/jobs/${job.jid}/events`,
    { format: "ndjson" },
    JobEventLine,
    `the event stream of job ${job.jid}`,
  );
  for await (const event of events) {
    if (!ctx.flags.json && event.host !== null && event.state !== "queued")
      ctx.out(
        `  ${event.host}: ${event.state}${event.exit_code === null ? "" : ` (exit ${event.exit_code})`}`,
      );
  }
  return show(ctx, client, job.jid);
}

async function show(ctx: CommandContext<JobFlags>, client: ApiClient, jid: string): Promise<number> {
  const job = await client.get(`/jobs/${jid}`, JobBody, { outputs: 1 });
  if (ctx.flags.json) ctx.out(JSON.stringify(job, null, 2));
  else printJob(ctx, job, true);
  return job.state === "failure" || job.state === "cancelled" ? EXIT.runFailed : EXIT.ok;
}

function printJob(ctx: CommandContext<JobFlags>, job: JobView, outputs: boolean): void {
  if (ctx.flags.json) return ctx.out(JSON.stringify(job, null, 2));
  ctx.out(`job ${job.jid} ${job.operation.kind}: ${job.state} (by ${job.requested_by}, ${job.created_at})`);
  for (const n of job.nodes ?? []) {
    const exit = n.exit_code === null ? "" : ` (exit ${n.exit_code})`;
    ctx.out(
      `${n.host}: ${n.state}${exit}${n.received_at === null ? "" : ", ACK"}${n.message ? ` ${n.message}` : ""}`,
    );
    if (!outputs) continue;
    for (const [name, tail] of [
      ["stdout", n.stdout_tail],
      ["stderr", n.stderr_tail],
    ] as const) {
      const lines = (tail ?? "")
        .trimEnd()
        .split("\n")
        .filter((l) => l !== "");
      for (const line of lines.slice(-10)) ctx.out(`    ${name}: ${line}`);
    }
  }
}
