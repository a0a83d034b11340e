/**
 * /hosts and /nodes: every host with its latest run from the per-host index (paged, never a scan
 * of runs), one host's history (paged, newest first), and the nodes a selector picks. Each is one
 * typed command through the dispatcher, like the /runs routes.
 */
import { callDispatcher } from "./api-call.js";
import { runBody } from "./run-routes.js";
import { hostParams, hostRunsQuery, hostsQuery, nodesQuery } from "./api-schemas.js";
import type { ApiApp, ApiContext } from "./api-context.js";

const DEFAULT_HOSTS_PAGE = 100;
const DEFAULT_RUNS_PAGE = 50;

/** Register /hosts, /hosts/{host}/runs and /nodes. */
export function registerHostRoutes(app: ApiApp, ctx: ApiContext): void {
  const { dispatcher } = ctx;

  app.get(
    "/hosts",
    {
      schema: {
        summary: "Every host with its latest run, in host-name order, paged (pass next as after)",
        querystring: hostsQuery,
      },
    },
    async (request) => {
      const { after, limit } = request.query;
      const { page } = await callDispatcher(
        dispatcher,
        request,
        {
          verb: "status",
          page: {
            limit: limit === undefined ? DEFAULT_HOSTS_PAGE : Number(limit),
            ...(after === undefined ? {} : { after }),
          },
        },
        "host-index",
      );
      return {
        hosts: page.hosts.map((entry) => ({
          host: entry.host,
          run_count: entry.runCount,
          updated_at: new Date(entry.updatedAt).toISOString(),
          latest: runBody(entry.latest),
        })),
        next: page.next,
        total: page.total,
      };
    },
  );

  app.get(
    "/hosts/:host/runs",
    {
      schema: {
        summary: "A host's runs, newest first, paged (pass next as before)",
        params: hostParams,
        querystring: hostRunsQuery,
      },
    },
    async (request) => {
      const { before, limit } = request.query;
      const reply = await callDispatcher(
        dispatcher,
        request,
        {
          verb: "history",
          host: request.params.host,
          limit: limit === undefined ? DEFAULT_RUNS_PAGE : Number(limit),
          ...(before === undefined ? {} : { before }),
        },
        "history",
      );
      return { host: reply.host, runs: reply.runs.map((r) => runBody(r)), next: reply.next };
    },
  );

  app.get(
    "/nodes",
    {
      schema: {
        summary: "The nodes jarvis knows (agents, or the node file), or those a selector picks",
        querystring: nodesQuery,
      },
    },
    async (request) => {
      const { where } = request.query;
      const { nodes } = await callDispatcher(
        dispatcher,
        request,
        where === undefined ? { verb: "hosts" } : { verb: "hosts", where },
        "hosts",
      );
      return {
        where: where ?? null,
        nodes: nodes.map((node) => ({
          host: node.host,
          groups: node.groups,
          online: node.online,
          last_seen: node.lastSeen === null ? null : new Date(node.lastSeen).toISOString(),
          agent_version: node.agentVersion,
          facts: node.facts,
        })),
      };
    },
  );
}
