/**
 * /runs: start runs (async, or sync with ?wait=), list them in pages, read one with its steps,
 * delete a finished one, and its log, clipboard and diff; retry and cancel. Every handler is one
 * typed command through the dispatcher; the JSON shapes are those of `status --json`.
 */
import { ApiError } from "../errors.js";
import { runJson } from "../cli/format.js";
import { callDispatcher } from "./api-call.js";
import { waitForRuns } from "./run-waiter.js";
import {
  listRunsQuery,
  retryBody,
  runIdParams,
  startRunBody,
  stepQuery,
  tokenOnlyQuery,
  waitQuery,
} from "./api-schemas.js";
import type { ApiApp, ApiContext } from "./api-context.js";
import type { FastifyRequest } from "fastify";
import type { RunDetail } from "../pipeline/run-control.js";
import type { RunCursor, RunPageQuery, RunRecord, RunView } from "../store/run-store.js";
import type { RunState } from "../protocol.js";

/** Longest `?wait=` honoured: a sync call that outlives proxies' timeouts helps nobody. */
const MAX_WAIT_MS = 5 * 60_000;
const DEFAULT_PAGE = 50;

/**
 * A run as the API shows it: `status --json`'s fields (with the approval decisions when given),
 * with `id` for clients that expect one.
 */
export function runBody(
  run: RunView,
  steps?: RunDetail["steps"],
  approvals?: RunDetail["approvals"],
): Record<string, unknown> {
  return { id: run.id, ...runJson(run, steps, approvals) };
}

/** Register the /runs routes. */
export function registerRunRoutes(app: ApiApp, ctx: ApiContext): void {
  const { dispatcher } = ctx;
  const runTarget = (id: string) => ({ run: id });
  const details = async (request: FastifyRequest, runs: RunRecord[]) =>
    (
      await Promise.all(
        runs.map(
          async (run) =>
            (
              await callDispatcher(
                dispatcher,
                request,
                { verb: "status", target: runTarget(run.id) },
                "status",
              )
            ).details,
        ),
      )
    ).flat();
  const started = (runs: RunRecord[], shown: RunDetail[] | undefined) => {
    const bodies = shown
      ? shown.map((d) => runBody(d.run, d.steps, d.approvals))
      : runs.map((r) => runBody(r));
    return runs.length === 1 ? bodies[0] : { group: runs[0]?.group ?? null, runs: bodies };
  };

  app.post(
    "/runs",
    {
      schema: {
        summary:
          "Start a pipeline on a design: 201 at once, or ?wait=30s for 200 (finished) / 202 (still going)",
        body: startRunBody,
        querystring: waitQuery,
      },
    },
    async (request, reply) => {
      const { pipeline, source, design, force, plan, plan_then_apply } = request.body;
      const waitMs = request.query.wait === undefined ? undefined : parseWait(request.query.wait);
      const { runs } = await callDispatcher(
        dispatcher,
        request,
        {
          verb: "run",
          pipeline,
          source: source ?? "api:inline-design",
          force: force ?? false,
          foreground: false,
          ...(design !== undefined ? { designText: design } : {}),
          ...(plan === true ? { plan } : {}),
          ...(plan_then_apply === true ? { planThenApply: true } : {}),
        },
        "started",
      );
      if (waitMs === undefined) return reply.code(201).send(started(runs, undefined));
      const finished = await waitForRuns(
        ctx.hub,
        ctx.control,
        runs.map((r) => r.id),
        waitMs,
      );
      return reply.code(finished ? 200 : 202).send(started(runs, await details(request, runs)));
    },
  );

  app.get(
    "/runs",
    { schema: { summary: "Runs, newest first, in pages (next_cursor)", querystring: listRunsQuery } },
    async (request) => {
      const q = request.query;
      const query: RunPageQuery = {
        limit: q.limit === undefined ? DEFAULT_PAGE : Number(q.limit),
        ...(q.host !== undefined ? { host: q.host } : {}),
        ...(q.group !== undefined ? { group: q.group } : {}),
        ...(q.pipeline !== undefined ? { pipeline: q.pipeline } : {}),
        ...(q.requested_by !== undefined ? { requestedBy: q.requested_by } : {}),
        ...(q.state !== undefined ? { states: q.state.split(",") as RunState[] } : {}),
        ...(q.since !== undefined ? { since: Date.parse(q.since) } : {}),
        ...(q.until !== undefined ? { until: Date.parse(q.until) } : {}),
        ...(q.cursor !== undefined ? { after: parseCursor(q.cursor) } : {}),
      };
      const { page } = await callDispatcher(dispatcher, request, { verb: "runs", query }, "runs");
      return {
        runs: page.runs.map((r) => runBody(r)),
        next_cursor: page.next ? formatCursor(page.next) : null,
      };
    },
  );

  app.get(
    "/runs/:id",
    { schema: { summary: "One run with its steps", params: runIdParams, querystring: tokenOnlyQuery } },
    async (request) => {
      const { details: found } = await callDispatcher(
        dispatcher,
        request,
        { verb: "status", target: runTarget(request.params.id) },
        "status",
      );
      const [detail] = found;
      if (!detail) throw new ApiError("E_RUN_NOT_FOUND", `no run '${request.params.id}'`);
      return runBody(detail.run, detail.steps, detail.approvals);
    },
  );

  app.delete(
    "/runs/:id",
    {
      schema: {
        summary: "Delete a finished run and its clipboards (409 while it goes on)",
        params: runIdParams,
      },
    },
    async (request, reply) => {
      await callDispatcher(
        dispatcher,
        request,
        { verb: "delete", target: runTarget(request.params.id) },
        "deleted",
      );
      return reply.code(204).send();
    },
  );

  app.get(
    "/runs/:id/log",
    { schema: { summary: "The run's log, redacted", params: runIdParams, querystring: tokenOnlyQuery } },
    async (request) => {
      const { lines } = await callDispatcher(
        dispatcher,
        request,
        { verb: "log", target: runTarget(request.params.id) },
        "log",
      );
      return {
        run: request.params.id,
        lines: lines.map((l) => ({
          seq: l.id,
          step: l.step,
          attempt: l.attempt,
          at: new Date(l.at).toISOString(),
          stream: l.stream,
          line: l.line,
        })),
      };
    },
  );

  app.get(
    "/runs/:id/clipboard",
    {
      schema: {
        summary: "The clipboard after step N (0: the design as loaded; default: the latest), redacted",
        params: runIdParams,
        querystring: stepQuery,
      },
    },
    async (request) => {
      const step = request.query.step === undefined ? undefined : Number(request.query.step);
      const { value } = await callDispatcher(
        dispatcher,
        request,
        { verb: "clipboard", target: runTarget(request.params.id), ...(step !== undefined ? { step } : {}) },
        "clipboard",
      );
      return { run: request.params.id, step: step ?? null, clipboard: value };
    },
  );

  app.get(
    "/runs/:id/diff",
    {
      schema: {
        summary: "What step N changed on the clipboard, redacted",
        params: runIdParams,
        querystring: stepQuery,
      },
    },
    async (request) => {
      if (request.query.step === undefined)
        throw new ApiError("E_API_INPUT", "query.step is required: a step number from 1");
      const step = Number(request.query.step);
      const { text } = await callDispatcher(
        dispatcher,
        request,
        { verb: "diff", target: runTarget(request.params.id), step },
        "diff",
      );
      return { run: request.params.id, step, diff: text };
    },
  );

  app.post(
    "/runs/:id/retry",
    {
      schema: {
        summary: "Retry a failed or cancelled run from its failed step (optionally with an edited clipboard)",
        params: runIdParams,
        body: retryBody,
      },
    },
    async (request, reply) => {
      const body = request.body ?? {};
      const { run } = await callDispatcher(
        dispatcher,
        request,
        {
          verb: "retry",
          target: runTarget(request.params.id),
          force: body.force ?? false,
          foreground: false,
          ...(body.clipboard !== undefined ? { clipboardYaml: body.clipboard } : {}),
        },
        "retrying",
      );
      return reply.code(202).send(runBody(run));
    },
  );

  app.post(
    "/runs/:id/cancel",
    { schema: { summary: "Cancel a queued or running run", params: runIdParams } },
    async (request, reply) => {
      const { run } = await callDispatcher(
        dispatcher,
        request,
        { verb: "cancel", target: runTarget(request.params.id) },
        "cancelling",
      );
      return reply.code(202).send(runBody(run));
    },
  );
}

/** `30s`, `500ms`, `2m`, or bare seconds; at most MAX_WAIT_MS. */
function parseWait(text: string): number {
  const m = /^([0-9]+)(ms|s|m)?$/.exec(text)!;
  const ms = Number(m[1]) * (m[2] === "ms" ? 1 : m[2] === "m" ? 60_000 : 1000);
  if (ms > MAX_WAIT_MS) throw new ApiError("E_API_INPUT", "query.wait must be at most 5m");
  return ms;
}

/** The wire form of a page's end: `<created_at ms>.<run id>`, both checked on the way back in. */
function formatCursor(cursor: RunCursor): string {
  return `${cursor.createdAt}.${cursor.id}`;
}

function parseCursor(text: string): RunCursor {
  const dot = text.indexOf(".");
  return { createdAt: Number(text.slice(0, dot)), id: text.slice(dot + 1) };
}
