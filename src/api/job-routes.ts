/**
 * /jobs: remote-execution jobs on the agents (docs/agents.md). Start one (201 at once, or
 * ?wait=30s for 200 ended / 202 still running), page through them, read one with each node's
 * state (?outputs=1 adds the output tails), follow its events (SSE or NDJSON, resumable), cancel,
 * rerun some of its nodes, delete a finished one; and one host's jobs. Every handler is one typed
 * command through the dispatcher, so the ACL and the audit apply as in chat.
 */
import type { FastifyRequest } from "fastify";
import { ApiError, errorMessage } from "../errors.js";
import type { BatchSize, JobOperation, JobOptions } from "../jobs/job.js";
import { Operation } from "../agent/protocol.js";
import type { JobDesk } from "../commands/job-execute.js";
import { callDispatcher } from "./api-call.js";
import { normalSelectorText } from "../commands/job-targets.js";
import { openEventStream, resumeAfter } from "./event-stream-http.js";
import { hostParams } from "./api-schemas.js";
import {
  jobEventsQuery,
  jobIdParams,
  jobListQuery,
  jobShowQuery,
  jobWaitQuery,
  jobsQuery,
  rerunBody,
  startJobBody,
} from "./job-schemas.js";
import type { StartJobBody } from "./job-schemas.js";
import { formatJobCursor, jobDetailJson, jobJson, parseJobCursor } from "./job-json.js";
import { streamJobEvents } from "./job-event-stream.js";
import type { ApiApp, ApiContext } from "./api-context.js";
import type { Reply } from "../commands/reply.js";

/** Longest `?wait=` honoured, as for runs. */
const MAX_WAIT_MS = 5 * 60_000;
const DEFAULT_PAGE = 50;

export function registerJobRoutes(app: ApiApp, ctx: ApiContext): void {
  const { dispatcher, redactor } = ctx;
  const detail = (reply: Extract<Reply, { kind: "job" }>, outputs = false) =>
    jobDetailJson(reply.job, reply.nodes, redactor, outputs);
  /** The job after up to `wait` of waiting for its end, and whether it ended. */
  const waited = async (request: FastifyRequest, jid: string, wait: string) => {
    await waitForJob(ctx.jobs, jid, parseWait(wait));
    const reply = await callDispatcher(
      dispatcher,
      request,
      { verb: "job", action: "show", jobId: jid },
      "job",
    );
    return { ended: reply.job.finishedAt !== null, body: detail(reply) };
  };
  const page = async (
    request: FastifyRequest,
    q: { limit?: string | undefined; cursor?: string | undefined; where?: string; selector?: string },
    host?: string,
  ) => {
    const { jobs, next } = await callDispatcher(
      dispatcher,
      request,
      {
        verb: "jobs",
        limit: q.limit === undefined ? DEFAULT_PAGE : Number(q.limit),
        ...(host === undefined ? {} : { host }),
        ...(q.where === undefined ? {} : { where: q.where }),
        ...(q.selector === undefined ? {} : { selector: q.selector }),
        ...(q.cursor === undefined ? {} : { before: parseJobCursor(q.cursor) }),
      },
      "jobs",
    );
    return { jobs: jobs.map((j) => jobJson(j, redactor)), next_cursor: next ? formatJobCursor(next) : null };
  };

  app.post(
    "/jobs",
    {
      schema: {
        summary: "Start a job on the agents: 201 at once, or ?wait=30s for 200 (ended) / 202 (still running)",
        body: startJobBody,
        querystring: jobWaitQuery,
      },
    },
    async (request, reply) => {
      const body = request.body;
      const started = await callDispatcher(
        dispatcher,
        request,
        {
          verb: "job",
          action: "start",
          operation: operationOf(body),
          targets: {
            words: body.targets ?? [],
            ...(body.where === undefined ? {} : { where: normalSelectorText(body.where) }),
          },
          options: optionsOf(body),
        },
        "job",
      );
      if (request.query.wait === undefined) return reply.code(201).send(detail(started));
      const { ended, body: shown } = await waited(request, started.job.id, request.query.wait);
      return reply.code(ended ? 200 : 202).send(shown);
    },
  );

  app.get(
    "/jobs",
    {
      schema: {
        summary:
          "Jobs, newest first, in pages (next_cursor); ?where= those that went to nodes a selector matches now, ?selector= those made with that selector",
        querystring: jobListQuery,
      },
    },
    async (request) => page(request, request.query),
  );

  app.get(
    "/nodes/:host/jobs",
    {
      schema: {
        summary: "The jobs that went to one host, newest first, in pages (next_cursor)",
        params: hostParams,
        querystring: jobsQuery,
      },
    },
    async (request) => ({
      host: request.params.host,
      ...(await page(request, request.query, request.params.host)),
    }),
  );

  app.get(
    "/jobs/:jid",
    {
      schema: {
        summary: "One job with each node's state, exit code and message (?outputs=1: output tails, redacted)",
        params: jobIdParams,
        querystring: jobShowQuery,
      },
    },
    async (request) => {
      const shown = await callDispatcher(
        dispatcher,
        request,
        { verb: "job", action: "show", jobId: request.params.jid },
        "job",
      );
      return detail(shown, request.query.outputs === "1");
    },
  );

  app.delete(
    "/jobs/:jid",
    {
      schema: {
        summary: "Delete an ended job's record (409 while it runs: cancel it first)",
        params: jobIdParams,
      },
    },
    async (request, reply) => {
      await callDispatcher(
        dispatcher,
        request,
        { verb: "job", action: "delete", jobId: request.params.jid },
        "job-deleted",
      );
      return reply.code(204).send();
    },
  );

  app.post(
    "/jobs/:jid/cancel",
    {
      schema: {
        summary:
          "Cancel a running job: unsent nodes are skipped, running ones have their process group killed",
        params: jobIdParams,
      },
    },
    async (request, reply) => {
      const cancelled = await callDispatcher(
        dispatcher,
        request,
        { verb: "job", action: "cancel", jobId: request.params.jid },
        "job",
      );
      return reply.code(202).send(detail(cancelled));
    },
  );

  app.post(
    "/jobs/:jid/rerun",
    {
      schema: {
        summary:
          "A new job with the same operation, arguments, selector and options over the nodes that ended so (201, or ?wait=)",
        params: jobIdParams,
        body: rerunBody,
        querystring: jobWaitQuery,
      },
    },
    async (request, reply) => {
      const again = await callDispatcher(
        dispatcher,
        request,
        { verb: "job", action: "rerun", jobId: request.params.jid, only: request.body.only, atOnce: true },
        "job",
      );
      if (request.query.wait === undefined) return reply.code(201).send(detail(again));
      const { ended, body } = await waited(request, again.job.id, request.query.wait);
      return reply.code(ended ? 200 : 202).send(body);
    },
  );

  app.get(
    "/jobs/:jid/events",
    {
      schema: {
        summary:
          "Follow the job's per-node state changes (SSE, or ?format=ndjson) until it ends, resumable with Last-Event-ID",
        params: jobIdParams,
        querystring: jobEventsQuery,
      },
    },
    async (request, reply) => {
      const afterSeq = resumeAfter(request.query.after, request.headers);
      const { job } = await callDispatcher(
        dispatcher,
        request,
        { verb: "job", action: "show", jobId: request.params.jid },
        "job",
      );
      const desk = ctx.jobs;
      if (!desk) throw new Error("a job was shown without the job controller");
      const format = request.query.format ?? "sse";
      const res = openEventStream(reply, format);
      try {
        await streamJobEvents({
          desk,
          jobId: job.id,
          afterSeq,
          format,
          res,
          redactor,
        });
      } catch (err) {
        ctx.log(`api: following job ${job.id} ended: ${errorMessage(err)}`);
        res.destroy();
      }
    },
  );
}

/** The operation and its args, as the agents' protocol types them (the schema checked them already). */
function operationOf(body: StartJobBody): JobOperation {
  const operation = Operation.parse({ ...(body.args ?? {}), kind: body.operation });
  if (operation.kind === "cancel")
    throw new ApiError("E_API_INPUT", "body.operation: cancel is jarvis's own");
  return operation;
}

function optionsOf(body: StartJobBody): Partial<JobOptions> {
  const batch: BatchSize | undefined =
    body.batch === undefined
      ? undefined
      : typeof body.batch === "number"
        ? { count: body.batch }
        : { percent: Number(body.batch.slice(0, -1)) };
  return {
    ...(batch ? { batch } : {}),
    ...(body.max_failures === undefined ? {} : { maxFailures: body.max_failures }),
    ...(body.concurrency === undefined ? {} : { concurrency: body.concurrency }),
    ...(body.timeout === undefined ? {} : { timeoutMs: body.timeout * 1000 }),
    ...(body.ttl === undefined ? {} : { ttlMs: body.ttl * 1000 }),
  };
}

/** Wait until the job has ended or `ms` have passed, whichever comes first. */
async function waitForJob(desk: JobDesk | undefined, jobId: string, ms: number): Promise<void> {
  if (!desk) throw new Error("a job was started without the job controller");
  const signal = AbortSignal.timeout(ms);
  try {
    await desk.controller.waitDone(jobId, signal);
  } catch (err) {
    // Time is up: the caller answers 202 with the job as it stands.
    if (!signal.aborted) throw err;
  }
}

/** `30s`, `500ms`, `2m`, or bare seconds; at most MAX_WAIT_MS. */
function parseWait(text: string): number {
  const m = /^([0-9]+)(ms|s|m)?$/.exec(text);
  const ms = Number(m?.[1]) * (m?.[2] === "ms" ? 1 : m?.[2] === "m" ? 60_000 : 1000);
  if (ms > MAX_WAIT_MS) throw new ApiError("E_API_INPUT", "query.wait must be at most 5m");
  return ms;
}
