/**
 * Runs one allowed command through RunControl, the only way any front acts on runs, and answers
 * with a reply record. Targets arrive resolved (the ACL has seen their hosts); nothing here reads
 * a word's shape.
 */
import { CommandError, ConfigError, PipelineError, RunError, SelectorError } from "../errors.js";
import { createSchedule, deleteSchedule, listSchedules } from "../schedule/schedule-book.js";
import type { ScheduleBookStore } from "../schedule/schedule-book.js";
import type { NodeEventStore } from "../store/node-event-store.js";
import { parseSelector } from "../inventory/selector-parser.js";
import { selectNodes } from "../inventory/select-nodes.js";
import type { NodeDirectory, NodeView } from "../inventory/node-view.js";
import type { RunControl, Requester } from "../pipeline/run-control.js";
import { runTarget as runTargetOf } from "../pipeline/run-target.js";
import type { RunTarget } from "../pipeline/run-target.js";
import type { Reply } from "./reply.js";
import type { RunRecord } from "../store/run-store.js";
import { CHAT_STATUS_LIMIT } from "./typed-command.js";
import type { TypedCommand } from "./typed-command.js";
import type { FileAccess } from "../clipboard/sources/design-source.js";
import type { ApprovalRule } from "../pipeline/approval-rule.js";
import type { Voter } from "../pipeline/approvals.js";
import { executeJobCommand, isJobCommand } from "./job-execute.js";
import type { JobDesk } from "./job-execute.js";

/** What execution needs besides the command. */
export interface ExecuteContext {
  control: RunControl;
  who: Requester;
  /** The roles the caller holds, for whoami. */
  roles: string[];
  /**
   * Which local files a design may come from: "any" for the local operator on the CLI, who may
   * read them anyway; "designs-dirs" for everyone else (chat, API).
   */
  fileAccess: FileAccess;
  /** The node directory `hosts` reads; undefined when this jarvis has none. */
  nodes: NodeDirectory | undefined;
  /** Who decides, for approve and deny: her person and her roles under the ACL. */
  voter: Voter;
  /** The approval the ACL role that allowed a start requires, if it does. */
  approval?: ApprovalRule;
  /** Jobs on the agents (the service with `agents:`); undefined elsewhere. */
  jobs?: JobDesk | undefined;
  /** A job command's hosts, resolved and checked by the ACL. */
  jobHosts?: string[] | undefined;
  /** Where schedules are kept (the store); undefined: this front cannot schedule. */
  schedules?: ScheduleBookStore | undefined;
  /** Where agents' events are kept (the store); undefined: this front cannot list them. */
  nodeEvents?: NodeEventStore | undefined;
}

/** Execute `command`; `target` is its resolved `<host|run|group>` word, when it has one. */
export async function executeCommand(
  command: TypedCommand,
  target: RunTarget | undefined,
  ctx: ExecuteContext,
): Promise<Reply> {
  const { control, who } = ctx;
  const approval = ctx.approval ? { approval: ctx.approval } : {};
  const resolved = (): RunTarget => {
    if (!target) throw new Error(`${command.verb}: its target was not resolved before execution`);
    return target;
  };
  if (isJobCommand(command)) return executeJobCommand(command, ctx.jobHosts, ctx.jobs, who.identity);
  switch (command.verb) {
    case "deploy":
      return {
        kind: "started",
        verb: "deploy",
        runs: await control.startAll("deploy", command.source, who, {
          fileAccess: ctx.fileAccess,
          ...approval,
          ...planThenApply(command),
        }),
      };
    case "run":
      return {
        kind: "started",
        verb: "run",
        runs: await control.startAll(command.pipeline, command.source, who, {
          force: command.force,
          foreground: command.foreground,
          plan: command.plan ?? false,
          fileAccess: ctx.fileAccess,
          ...approval,
          ...planThenApply(command),
          ...(command.designText !== undefined ? { designText: command.designText } : {}),
        }),
      };
    case "plan": {
      const source =
        command.pipeline === "deploy" ? command.source : await redeploySource(control, resolved());
      return {
        kind: "started",
        verb: "plan",
        runs: await control.startAll(command.pipeline, source, who, {
          plan: true,
          fileAccess: ctx.fileAccess,
        }),
      };
    }
    case "redeploy":
    case "destroy": {
      const source = await redeploySource(control, resolved());
      return {
        kind: "started",
        verb: command.verb,
        runs: await control.startAll(command.verb, source, who, {
          force: command.force,
          fileAccess: ctx.fileAccess,
          ...approval,
          ...planThenApply(command),
        }),
      };
    }
    case "retry":
      return {
        kind: "retrying",
        run: await control.retry(resolved(), who, command.clipboardYaml, {
          force: command.force,
          foreground: command.foreground,
          fileAccess: ctx.fileAccess,
        }),
      };
    case "replay":
      return {
        kind: "started",
        verb: "replay",
        runs: await control.replay(resolved(), command.onto, who, {
          foreground: command.foreground ?? false,
          fileAccess: ctx.fileAccess,
        }),
      };
    case "resume":
      return { kind: "resumed", run: await control.resume(resolved()) };
    case "cancel":
      return { kind: "cancelling", run: await control.cancel(resolved(), who) };
    case "status":
      return target === undefined
        ? { kind: "host-index", page: await control.hosts(command.page ?? { limit: CHAT_STATUS_LIMIT }) }
        : { kind: "status", target, details: await control.status(target) };
    case "log":
      return { kind: "log", target: resolved(), lines: await control.log(resolved()) };
    case "clipboard":
      return {
        kind: "clipboard",
        target: resolved(),
        step: command.step,
        value: await control.clipboardValue(resolved(), command.step),
      };
    case "diff":
      return {
        kind: "diff",
        target: resolved(),
        step: command.step,
        text: await control.diff(resolved(), command.step),
      };
    case "history": {
      const page = await control.historyPage(command.host, {
        limit: command.limit,
        ...(command.before === undefined ? {} : { before: command.before }),
      });
      return { kind: "history", host: command.host, runs: page.runs, next: page.next };
    }
    case "pipelines":
      return { kind: "pipelines", pipelines: await control.pipelines() };
    case "audit":
      return {
        kind: "audit",
        entries:
          command.since === undefined && command.identity === undefined
            ? await control.listAudit(command.limit)
            : await control.queryAudit({
                limit: command.limit,
                ...(command.since !== undefined ? { since: command.since } : {}),
                ...(command.identity !== undefined ? { identity: command.identity } : {}),
              }),
      };
    case "runs":
      return { kind: "runs", page: await control.pageRuns(command.query) };
    case "delete": {
      const run = await control.find(resolved());
      await control.deleteRun(runTargetOf(run));
      return { kind: "deleted", runId: run.id };
    }
    case "events":
      return { kind: "event-stream", run: await control.find(resolved()) };
    case "help":
      return { kind: "help", topic: command.topic };
    case "whoami":
      return { kind: "whoami", identity: who.identity, roles: ctx.roles };
    case "hosts":
      return { kind: "hosts", where: command.where, nodes: await hosts(ctx.nodes, command.where) };
    case "approve":
      return {
        kind: "approval",
        verdict: "approve",
        ...(await control.decide(resolved(), ctx.voter, "approve", "")),
      };
    case "deny":
      return {
        kind: "approval",
        verdict: "deny",
        ...(await control.decide(resolved(), ctx.voter, "deny", command.reason)),
      };
    case "follow": {
      const target = resolved();
      if (target.kind === "group")
        throw new CommandError(
          "E_USAGE",
          `${target.group} is a cluster; follow one of ${target.hosts.join(", ")}`,
        );
      // A host with no run yet is followed from its first one.
      const current =
        target.kind === "run" ? await control.find(target) : (await control.history(target.host, 1))[0];
      const run = current && isActive(current) ? current : undefined;
      if (target.kind === "run" && !run)
        throw new RunError(
          "E_RUN_STATE",
          `run ${target.runId} has ended; see its output with: log ${target.runId}`,
        );
      return { kind: "following", target, run };
    }
    case "unfollow":
      return { kind: "unfollowing", target };
    case "schedule": {
      const store = scheduleStore(ctx);
      if (!(await control.pipelines()).some((p) => p.name === command.pipeline)) {
        throw new PipelineError(
          "E_PIPELINE_NOT_FOUND",
          `no pipeline '${command.pipeline.slice(0, 40)}'; see: pipelines`,
        );
      }
      const source = "target" in command ? await redeploySource(control, resolved()) : command.source;
      const request = { pipeline: command.pipeline, source, when: command.when, misfire: command.misfire };
      return {
        kind: "scheduled",
        schedule: await createSchedule(store, { ...request, force: command.force }, who, ctx.fileAccess),
      };
    }
    case "schedules":
      return { kind: "schedules", schedules: await listSchedules(scheduleStore(ctx)) };
    case "unschedule":
      await deleteSchedule(scheduleStore(ctx), command.id);
      return { kind: "unscheduled", id: command.id };
    case "node-events": {
      if (!ctx.nodeEvents) throw new ConfigError("E_NO_NODE_EVENTS", "events are not kept by this front");
      // One more than asked: whether an older page exists, without counting.
      const events = await ctx.nodeEvents.listNodeEvents({
        limit: command.limit + 1,
        ...(command.host === undefined ? {} : { host: command.host }),
        ...(command.before === undefined ? {} : { before: command.before }),
      });
      const page = events.slice(0, command.limit);
      const next = events.length > command.limit ? (page.at(-1)?.id ?? null) : null;
      return { kind: "node-events", host: command.host, events: page, next };
    }
  }
}

/** The start option of a command that may plan first and apply once approved. */
function planThenApply(command: { planThenApply?: boolean }): { planThenApply?: true } {
  return command.planThenApply === true ? { planThenApply: true } : {};
}

function scheduleStore(ctx: ExecuteContext): ScheduleBookStore {
  if (!ctx.schedules) throw new ConfigError("E_NO_SCHEDULES", "schedules are not kept by this front");
  return ctx.schedules;
}

/** Every node, or those `where` picks; a selector that does not parse is the caller's input to fix. */
async function hosts(directory: NodeDirectory | undefined, where: string | undefined): Promise<NodeView[]> {
  if (!directory) {
    throw new ConfigError(
      "E_NO_NODE_DIRECTORY",
      "hosts: this jarvis has no node store yet; nodes appear once agents report to it (docs/agents.md)",
    );
  }
  if (where === undefined) return selectNodes(directory, { kind: "and", terms: [] });
  let selector;
  try {
    selector = parseSelector(where);
  } catch (error) {
    if (error instanceof SelectorError) throw new CommandError("E_USAGE", error.message, { cause: error });
    throw error;
  }
  return selectNodes(directory, selector);
}

function isActive(run: RunRecord): boolean {
  return run.state === "awaiting_approval" || run.state === "queued" || run.state === "running";
}

/** The source a host was last deployed from, else its LDAP entry. */
async function redeploySource(control: RunControl, target: RunTarget): Promise<string> {
  switch (target.kind) {
    case "group":
      throw new CommandError(
        "E_USAGE",
        `${target.group} is a cluster of ${target.hosts.join(", ")}; name one host, or run the pipeline on the cluster's design`,
      );
    case "run":
      return (await control.find(target)).source;
    case "host": {
      // history() shows sources redacted; lastSource() is the source as given, to deploy from.
      return (await control.lastSource(target.host)) ?? `cn=${target.host}`;
    }
  }
}
