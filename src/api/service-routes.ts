/**
 * The service around the runs: GET /pipelines and GET /audit (through the dispatcher, like every
 * command), GET /health (open: whether the store answers, each chat network this replica holds is connected,
 * and with replicas the cluster: replicas, workers, who holds each network) and
 * GET /metrics (Prometheus text).
 */
import { errorMessage } from "../errors.js";
import { callDispatcher } from "./api-call.js";
import { auditQuery, tokenOnlyQuery } from "./api-schemas.js";
import { prometheusText } from "./metrics.js";
import { clusterJson } from "../cluster/cluster-json.js";
import type { ClusterJson } from "../cluster/cluster-json.js";
import type { ApiApp, ApiContext } from "./api-context.js";

/** Register /pipelines, /audit, /health and /metrics. */
export function registerServiceRoutes(app: ApiApp, ctx: ApiContext): void {
  app.get(
    "/pipelines",
    { schema: { summary: "The pipelines jarvis knows, with their steps", querystring: tokenOnlyQuery } },
    async (request) => {
      const { pipelines } = await callDispatcher(ctx.dispatcher, request, { verb: "pipelines" }, "pipelines");
      return { pipelines };
    },
  );

  app.get(
    "/audit",
    { schema: { summary: "The audit trail, newest first", querystring: auditQuery } },
    async (request) => {
      const q = request.query;
      const { entries } = await callDispatcher(
        ctx.dispatcher,
        request,
        {
          verb: "audit",
          limit: q.limit === undefined ? 100 : Number(q.limit),
          ...(q.since !== undefined ? { since: Date.parse(q.since) } : {}),
          ...(q.identity !== undefined ? { identity: q.identity } : {}),
        },
        "audit",
      );
      return {
        entries: entries.map((e) => ({
          at: new Date(e.at).toISOString(),
          identity: e.identity,
          network: e.network,
          room: e.room,
          command: e.command,
          decision: e.decision,
          reason: e.reason,
          run: e.runId,
        })),
      };
    },
  );

  app.get(
    "/health",
    { schema: { summary: "Whether the store answers and each chat network is connected (no token needed)" } },
    async (_request, reply) => {
      let store: { up: boolean; error?: string };
      try {
        await ctx.control.latestSeq();
        store = { up: true };
      } catch (err) {
        ctx.log(`api: health: the store does not answer: ${errorMessage(err)}`);
        store = { up: false, error: "the store does not answer; see jarvis's log" };
      }
      const chat = Object.fromEntries([...ctx.chatStates()].map(([network, state]) => [network, state.kind]));
      // The cluster is shown, not judged: a replica whose NATS is away still executes runs.
      let cluster: ClusterJson | { error: string } | undefined;
      if (ctx.cluster) {
        try {
          cluster = clusterJson(await ctx.cluster());
        } catch (err) {
          ctx.log(`api: health: the cluster view is not readable: ${errorMessage(err)}`);
          cluster = { error: "the cluster's NATS buckets are not readable; see jarvis's log" };
        }
      }
      return reply
        .code(store.up ? 200 : 503)
        .send({ ok: store.up, store, chat, ...(cluster ? { cluster } : {}) });
    },
  );

  app.get(
    "/metrics",
    {
      schema: { summary: "Prometheus metrics: runs by state, step durations, queue depth, chat connections" },
    },
    async (_request, reply) => {
      const text = prometheusText({
        runs: await ctx.control.runCounts(),
        durations: ctx.durations,
        chat: ctx.chatStates(),
        followers: ctx.hub.followers,
      });
      return reply.type("text/plain; version=0.0.4; charset=utf-8").send(text);
    },
  );
}
