/**
 * Commands that look at runs (status, log, clipboard, diff, history, pipelines, audit) and nodes
 * (hosts, events). status, log, clipboard, diff, history and events look here or through a jarvis
 * server (with-backend.ts).
 */
import { dumpYaml } from "../clipboard/yaml.js";
import { stepNumber } from "../commands/typed-command.js";
import { EXIT } from "./exit-codes.js";
import { groupLine, logLine, runJson, statusLine, stepTable } from "./format.js";
import { defineCommand, dispatch, oneTarget, positiveInteger, usageError, withJarvis } from "./command.js";
import { withBackend } from "./with-backend.js";
import { followEvents, nodeEventLine } from "./events-follow.js";
import type { RunJson } from "../api/response-schemas.js";
import { nodeLine } from "../bot/commands.js";
import { printClusterStatus } from "./cluster-status.js";
import type { CliCommand, CommandContext } from "./command.js";

const json = { json: { type: "boolean", default: false } } as const;

/** status, log, clipboard, diff, history, pipelines, audit. */
export const inspectCommands: Record<string, CliCommand> = {
  status: defineCommand({
    usage: "status [host|run|group] [--limit N] [--after HOST] [--json] | status --cluster [--json]",
    summary:
      "where each host's latest run is (every host, or one page of them), or where it failed and why; --cluster: replicas, workers and who holds each chat network",
    options: {
      ...json,
      limit: { type: "string" },
      after: { type: "string" },
      cluster: { type: "boolean", default: false },
    },
    remote: true,
    run: (ctx) => {
      if (ctx.flags.cluster) {
        if (ctx.args.length > 0 || ctx.flags.limit !== undefined || ctx.flags.after !== undefined)
          throw usageError("status --cluster takes no host and no paging");
        return printClusterStatus(ctx, ctx.flags.json);
      }
      if (ctx.args.length > 1) throw usageError("status takes at most one host, run id or group id");
      const [word] = ctx.args;
      if (word === undefined) return allHosts(ctx);
      if (ctx.flags.limit !== undefined || ctx.flags.after !== undefined)
        throw usageError("--limit and --after page the list of every host; give no host with them");
      return withBackend(ctx, async (backend) => {
        const { details, group } = await backend.status(word);
        if (ctx.flags.json) {
          const list = details.map((d) => runJson(d.run, d.steps, d.approvals));
          ctx.out(JSON.stringify(group ? list : list[0], null, 2));
        } else if (details.length === 0) {
          ctx.out("no runs yet; start one with: jarvis run deploy examples/loki.yml");
        } else {
          for (const d of details) {
            ctx.out(statusLine(d));
            if (!group) ctx.out(stepTable(d.steps));
          }
          const groups = new Set(details.map((d) => d.run.group).filter((g): g is string => g !== null));
          for (const id of groups) ctx.out(groupLine((await backend.status(id)).details));
        }
        return EXIT.ok;
      });
    },
  }),
  log: defineCommand({
    usage: "log <host|run> [--json]",
    summary: "the run's log: every step's progress lines, attempts and errors",
    options: json,
    remote: true,
    run: (ctx) => {
      const target = oneTarget(ctx, "log");
      return withBackend(ctx, async (backend) => {
        const lines = await backend.log(target);
        if (ctx.flags.json)
          ctx.out(
            JSON.stringify(
              lines.map((l) => ({
                at: new Date(l.at).toISOString(),
                step: l.stepIndex + 1,
                attempt: l.attempt,
                stream: l.stream,
                line: l.line,
              })),
            ),
          );
        else for (const l of lines) ctx.out(logLine(l));
        return EXIT.ok;
      });
    },
  }),
  clipboard: defineCommand({
    usage: "clipboard <host|run> [--step N] [--json]",
    summary: "the clipboard after step N (default: the latest), secrets shown as ***",
    options: { ...json, step: { type: "string" } },
    remote: true,
    run: (ctx) => {
      const target = oneTarget(ctx, "clipboard");
      const step = ctx.flags.step === undefined ? undefined : stepNumber(ctx.flags.step, 0);
      return withBackend(ctx, async (backend) => {
        const value = await backend.clipboard(target, step);
        ctx.out(ctx.flags.json ? JSON.stringify(value, null, 2) : dumpYaml(value).trimEnd());
        return EXIT.ok;
      });
    },
  }),
  diff: defineCommand({
    usage: "diff <host|run> <step>",
    summary: "what step N added, changed and removed on the clipboard",
    options: {},
    remote: true,
    run: (ctx) => {
      const [target, raw] = ctx.args;
      if (!target || raw === undefined || ctx.args.length > 2)
        throw usageError("diff takes a host or run id and a step number");
      const step = stepNumber(raw, 1);
      return withBackend(ctx, async (backend) => {
        ctx.out(await backend.diff(target, step));
        return EXIT.ok;
      });
    },
  }),
  history: defineCommand({
    usage: "history <host> [--limit N] [--before RUN] [--json]",
    summary: "a host's runs, newest first (--before: the page after that run)",
    options: { ...json, limit: { type: "string" }, before: { type: "string" } },
    remote: true,
    run: (ctx) => {
      const host = oneTarget(ctx, "history");
      const limit = positiveInteger(ctx.flags.limit, "--limit", 20);
      const before = ctx.flags.before;
      return withBackend(ctx, async (backend) => {
        const reply = await backend.history(host, { limit, before });
        if (reply.next !== null)
          ctx.err(`more: jarvis history ${host} --limit ${limit} --before ${reply.next}`);
        if (ctx.flags.json)
          ctx.out(
            JSON.stringify(
              reply.runs.map((r) => runJson(r)),
              null,
              2,
            ),
          );
        else if (reply.runs.length === 0) ctx.out(`no runs for ${host}`);
        else
          for (const run of reply.runs)
            ctx.out(`${new Date(run.createdAt).toISOString()} ${statusLine({ run, steps: [] })}`);
        return EXIT.ok;
      });
    },
  }),
  pipelines: defineCommand({
    usage: "pipelines [--json]",
    summary: "the pipelines there are, and their steps",
    options: json,
    run: (ctx) => {
      if (ctx.args.length > 0) throw usageError("pipelines takes no arguments");
      return withJarvis(ctx, async (jarvis) => {
        const reply = await dispatch(jarvis, ctx, { verb: "pipelines" }, "pipelines");
        if (ctx.flags.json) ctx.out(JSON.stringify(reply.pipelines, null, 2));
        else
          for (const p of reply.pipelines) ctx.out(`${p.name}: ${p.description}\n  ${p.steps.join(" → ")}`);
        return EXIT.ok;
      });
    },
  }),
  audit: defineCommand({
    usage: "audit [--limit N] [--json]",
    summary: "who asked for what, where, and whether it was allowed",
    options: { ...json, limit: { type: "string" } },
    run: (ctx) => {
      if (ctx.args.length > 0) throw usageError("audit takes no arguments");
      const limit = positiveInteger(ctx.flags.limit, "--limit", 50);
      return withJarvis(ctx, async (jarvis) => {
        const reply = await dispatch(jarvis, ctx, { verb: "audit", limit }, "audit");
        if (ctx.flags.json) ctx.out(JSON.stringify(reply.entries, null, 2));
        else
          for (const e of reply.entries)
            ctx.out(
              `${new Date(e.at).toISOString()} ${e.decision.padEnd(7)} ${e.identity} ${e.network}:${e.room} "${e.command}"${e.runId ? ` run ${e.runId}` : ""}${e.reason ? ` (${e.reason})` : ""}`,
            );
        return EXIT.ok;
      });
    },
  }),
  hosts: defineCommand({
    usage: "hosts [--where SELECTOR] [--json]",
    summary: "the nodes jarvis knows, or those a selector picks (os.family=debian and group=web)",
    options: { ...json, where: { type: "string" } },
    run: (ctx) => {
      if (ctx.args.length > 0) throw usageError("hosts takes no arguments; select with --where SELECTOR");
      const where = ctx.flags.where;
      return withJarvis(ctx, async (jarvis) => {
        const reply = await dispatch(
          jarvis,
          ctx,
          where === undefined ? { verb: "hosts" } : { verb: "hosts", where },
          "hosts",
        );
        if (ctx.flags.json) ctx.out(JSON.stringify(reply.nodes, null, 2));
        else if (reply.nodes.length === 0) ctx.out(`no nodes${where === undefined ? "" : ` where ${where}`}`);
        else for (const node of reply.nodes) ctx.out(nodeLine(node));
        return EXIT.ok;
      });
    },
  }),
  events: defineCommand({
    usage: "events [host] [--limit N] [--before EVENT] [--follow [--after SEQ]] [--json]",
    summary:
      "the events the agents reported (changed files, probes), newest first: every node's or one host's; --follow prints each new one as it comes (--json: one JSON object a line)",
    options: {
      ...json,
      limit: { type: "string" },
      before: { type: "string" },
      follow: { type: "boolean", default: false },
      after: { type: "string" },
    },
    remote: true,
    run: (ctx) => {
      if (ctx.args.length > 1) throw usageError("events takes at most one host");
      const [host] = ctx.args;
      if (ctx.flags.follow) return followEvents(ctx, host);
      if (ctx.flags.after !== undefined) throw usageError("--after is for --follow");
      const limit = positiveInteger(ctx.flags.limit, "--limit", 50);
      if (limit > 1000) throw usageError("--limit must be at most 1000");
      const before = ctx.flags.before;
      return withBackend(ctx, async (backend) => {
        const page = await backend.events({ host, limit, before });
        if (page.next !== null)
          ctx.err(
            `more: jarvis events${host === undefined ? "" : ` ${host}`} --limit ${limit} --before ${page.next}`,
          );
        if (ctx.flags.json) ctx.out(JSON.stringify(page.events, null, 2));
        else if (page.events.length === 0)
          ctx.out(host === undefined ? "no events" : `no events from ${host}`);
        else for (const e of page.events) ctx.out(nodeEventLine(e));
        return EXIT.ok;
      });
    },
  }),
};

/** Pages fetched at a time when the CLI lists every host. */
const HOSTS_PAGE = 1000;

/**
 * `status` without a host: every host from the per-host index, fetched page by page; with
 * `--limit`, one page and the command for the next on stderr.
 */
function allHosts(
  ctx: CommandContext<{ json: boolean; limit?: string | undefined; after?: string | undefined }>,
): Promise<number> {
  const onePage = ctx.flags.limit !== undefined;
  const limit = positiveInteger(ctx.flags.limit, "--limit", HOSTS_PAGE);
  return withBackend(ctx, async (backend) => {
    let after = ctx.flags.after;
    const json: RunJson[] = [];
    let total = 0;
    for (;;) {
      const page = await backend.hosts({ limit, after });
      total = page.total;
      for (const latest of page.latest) {
        if (ctx.flags.json) json.push(runJson(latest));
        else ctx.out(statusLine({ run: latest, steps: [] }));
      }
      if (page.next === null) break;
      if (onePage) {
        ctx.err(`more: jarvis status --limit ${limit} --after ${page.next}`);
        break;
      }
      after = page.next;
    }
    if (ctx.flags.json) ctx.out(JSON.stringify(json, null, 2));
    else if (total === 0) ctx.out("no runs yet; start one with: jarvis run deploy examples/loki.yml");
    return EXIT.ok;
  });
}
