/**
 * The one way a command enters jarvis, whichever front it came from (chat, CLI, later the HTTP
 * API): words -> typed command -> rate limit -> target resolved against the store -> ACL on the
 * resolved host(s) -> execute through RunControl -> reply record, with exactly one audit entry
 * per command, refusals included. Fronts only render the reply.
 */
import { ApprovalRefused, CommandError, errorMessage } from "../errors.js";
import type { ApprovalRule } from "../pipeline/approval-rule.js";
import { targetHosts } from "../pipeline/run-target.js";
import type { RunControl } from "../pipeline/run-control.js";
import type { RunTarget } from "../pipeline/run-target.js";
import { decide, personOf, rolesOf } from "./acl.js";
import type { AccessDecision, AclPolicy } from "./acl.js";
import { audit } from "./audit.js";
import type { Redactor } from "../clipboard/redact.js";
import { COMMANDS, parseCommand } from "./command-parser.js";
import type { Verb } from "./command-parser.js";
import { executeCommand } from "./execute.js";
import { replyRunId } from "./reply.js";
import type { Reply } from "./reply.js";
import { hostOfSource, typeChatCommand } from "./typed-command.js";
import type { TypedCommand } from "./typed-command.js";
import type { CommandLimiter } from "../bot/rate-limit.js";
import type { NodeDirectory } from "../inventory/node-view.js";
import { hostsSelectedBy, resolveJobHosts } from "./job-targets.js";
import { aclVerbOf, isJobCommand, isNewJobCommand, operationOf } from "./job-execute.js";
import type { JobDesk } from "./job-execute.js";
import { findSchedule } from "../schedule/schedule-book.js";
import type { ScheduleBookStore } from "../schedule/schedule-book.js";
import type { NodeEventStore } from "../store/node-event-store.js";

/** Who sends a command, as the front that received it vouches. */
export interface Caller {
  /** The identity the network vouches for; undefined when it vouches for none. */
  identity: string | undefined;
  /** Why there is no identity (shown in the refusal), when the front knows. */
  identityProblem?: string;
  /** What the audit trail names when there is no identity (e.g. "irc:?nick"). */
  label: string;
  /** Audit fields: the network ("irc", "console", "cli") and room ("#ops", "dm:alice", "local"). */
  network: string;
  room: string;
  /** Where progress of the runs it starts goes, e.g. "irc:#ops", "cli". */
  origin: string;
  /** The command came from a room jarvis sits in (read-only commands are open there). */
  configuredRoom: boolean;
  /**
   * The operator of this machine on the CLI: may do everything (the ACL is for people reaching
   * jarvis through a network; whoever runs the CLI can open the store anyway) and is not paced.
   */
  localOperator: boolean;
}

/** The front a request came through. */
export type Front = "chat" | "cli" | "api";

/** One command for the dispatcher: chat text as written (after the address), or a typed command. */
export interface DispatchRequest {
  front: Front;
  caller: Caller;
  input: { text: string } | { command: TypedCommand; text: string };
}

/** What the dispatcher needs. */
export interface DispatcherOptions {
  control: RunControl;
  acl: AclPolicy;
  /** Per-identity command pacing (chat); absent: no pacing. */
  limiter?: CommandLimiter;
  /** Where audit failures are reported. */
  log: (line: string) => void;
  /** Audit entries keep no secret: the command and the reason are masked like replies. */
  redactor?: Redactor;
  /** Where `hosts` looks: the agents' node store (Jarvis.nodes); absent, `hosts` says so. */
  nodes?: NodeDirectory;
  /** Jobs on the agents (Jarvis.jobs with jarvis.yml's defaults); absent, job commands say so. */
  jobs?: JobDesk;
  /** Where schedules are kept (Jarvis.store); absent, the schedule commands say so. */
  schedules?: ScheduleBookStore;
  /** Where agents' events are kept (Jarvis.store); absent, `events` says so. */
  nodeEvents?: NodeEventStore;
}

/** The dispatcher every front shares. */
export class Dispatcher {
  constructor(private readonly options: DispatcherOptions) {}

  private mask(text: string): string {
    return this.options.redactor ? this.options.redactor.text(text) : text;
  }

  /** Handle one command; never throws: failures come back as `failed` or `refused` replies. */
  async dispatch(request: DispatchRequest): Promise<Reply> {
    const { caller } = request;
    const text = request.input.text;
    let reason = "";
    let reply: Reply;
    try {
      const checked = await this.admit(request);
      if ("refused" in checked) {
        reply = checked.refused;
      } else {
        reason = checked.reason;
        const identity = caller.identity ?? caller.label;
        const { acl } = this.options;
        // Approvals count people by their verified identities, the local operator's included:
        // being at the machine gives no approver role.
        const voter = {
          identity,
          person: personOf(acl, identity),
          roles: rolesOf(acl, caller.identity),
          aclAllows: this.aclAllowsDecision(caller, checked.command, checked.target),
        };
        reply = await executeCommand(checked.command, checked.target, {
          control: this.options.control,
          who: { identity, origin: caller.origin, person: voter.person },
          roles: caller.localOperator ? ["local operator"] : rolesOf(acl, caller.identity),
          fileAccess: caller.localOperator && request.front === "cli" ? "any" : "designs-dirs",
          nodes: this.options.nodes,
          jobs: this.options.jobs,
          jobHosts: checked.jobHosts,
          schedules: this.options.schedules,
          nodeEvents: this.options.nodeEvents,
          voter,
          ...(checked.approval ? { approval: checked.approval } : {}),
        });
      }
    } catch (error) {
      const message = errorMessage(error).split("\n")[0] ?? "";
      reply =
        error instanceof CommandError
          ? { kind: "refused", why: "input", message }
          : error instanceof ApprovalRefused
            ? { kind: "refused", why: "denied", message }
            : { kind: "failed", message, error };
    }
    await audit(
      this.options.control,
      {
        identity: caller.identity ?? caller.label,
        network: caller.network,
        room: caller.room,
        command: this.mask(text),
        decision:
          reply.kind === "refused" && reply.why !== "input"
            ? "denied"
            : reply.kind === "refused" || reply.kind === "failed"
              ? "error"
              : "allowed",
        reason: this.mask(reply.kind === "refused" || reply.kind === "failed" ? reply.message : reason),
        runId: replyRunId(reply),
      },
      this.options.log,
    );
    return reply;
  }

  /** Pace, parse, resolve and authorize: the command to execute, or why not. */
  private async admit(request: DispatchRequest): Promise<
    | { refused: Reply }
    | {
        command: TypedCommand;
        target: RunTarget | undefined;
        jobHosts?: string[];
        reason: string;
        approval?: ApprovalRule;
      }
  > {
    const { caller, input } = request;
    const who = caller.identity ?? caller.label;
    if (!caller.localOperator && this.options.limiter && !this.options.limiter.allow(who)) {
      return refuse("rate-limited", "too many commands; wait a few seconds");
    }
    let command: TypedCommand;
    if ("command" in input) command = input.command;
    else {
      const parsed = parseCommand(input.text);
      if (parsed.kind !== "command") return refuse("input", parsed.kind === "error" ? parsed.message : "");
      command = typeChatCommand(parsed.command.verb, parsed.command.args, parsed.command.text);
    }
    const target = await this.resolve(command);
    const jobHosts = isNewJobCommand(command)
      ? await resolveJobHosts(this.options.nodes, command.targets)
      : command.verb === "jobs" && command.where !== undefined
        ? await hostsSelectedBy(this.options.nodes, command.where)
        : undefined;
    const hosts = jobHosts ? { jobHosts } : {};
    if (caller.localOperator)
      return { command, target, ...hosts, reason: `local operator on the ${request.front}` };
    const checks = isJobCommand(command)
      ? await this.jobAccessChecks(command, jobHosts)
      : await this.accessChecks(command, target);
    const decision = this.authorize(caller, command, checks);
    if (!decision.allowed) {
      const why =
        caller.identity === undefined && caller.identityProblem ? ` (${caller.identityProblem})` : "";
      return refuse("denied", `${decision.reason}${why}`);
    }
    return {
      command,
      target,
      ...hosts,
      reason: decision.reason,
      ...(decision.allowed && decision.approval ? { approval: decision.approval } : {}),
    };
  }

  /**
   * Whether the ACL lets the caller approve or deny on the run's host: who decides on a
   * plan-then-apply that no approval rule names (approvals.ts).
   */
  private aclAllowsDecision(caller: Caller, command: TypedCommand, target: RunTarget | undefined): boolean {
    if ((command.verb !== "approve" && command.verb !== "deny") || !target) return false;
    return targetHosts(target).every(
      (host) =>
        decide(this.options.acl, {
          identity: caller.identity,
          verb: command.verb,
          host,
          configuredRoom: caller.configuredRoom,
        }).allowed,
    );
  }

  private async resolve(command: TypedCommand): Promise<RunTarget | undefined> {
    if (!("target" in command) || command.target === undefined) return undefined;
    const word = command.target;
    return typeof word === "string"
      ? this.options.control.resolveTarget(word)
      : this.options.control.runTarget(word.run);
  }

  /**
   * What the ACL is asked: the command's verb on every host it acts on (a command that names none
   * is checked as such). Replay acts on the hosts it replays onto, as `replay` and as the verb its
   * pipeline is (replaying a destroy destroys), never on the replayed run's host.
   */
  private async accessChecks(command: TypedCommand, target: RunTarget | undefined): Promise<AccessCheck[]> {
    const verb = ACL_VERB_OF[command.verb] ?? command.verb;
    if (!isChatVerb(verb)) return [{ verb, host: undefined }];
    if (command.verb === "replay" && target) {
      const run = await this.options.control.find(target);
      const hosts = "hosts" in command.onto ? command.onto.hosts : command.onto.sources.map(hostOfSource);
      return hosts.flatMap((host) => [
        { verb: "replay" as const, host },
        { verb: pipelineVerb(run.pipeline), host },
      ]);
    }
    if (command.verb === "schedule" || command.verb === "unschedule") {
      return this.scheduleChecks(command, target);
    }
    const hosts = target ? targetHosts(target) : hostsNamed(command);
    if (command.verb === "runs" && command.query.host !== undefined) hosts.push(command.query.host);
    return hosts.length === 0 ? [{ verb, host: undefined }] : hosts.map((host) => ({ verb, host }));
  }

  /**
   * A job's operation (ping, execute, service) on every host it goes to; `job <jid>` and a page of
   * jobs read (a host's page as reading on that host), while cancelling, rerunning or deleting a
   * job is its operation again on the job's hosts.
   */
  private async jobAccessChecks(
    command: TypedCommand,
    jobHosts: string[] | undefined,
  ): Promise<AccessCheck[]> {
    if (isNewJobCommand(command)) {
      const verb = aclVerbOf(operationOf(command));
      return (jobHosts ?? []).map((host) => ({ verb, host }));
    }
    // A page by selector reads on every host the selector matches.
    if (command.verb === "jobs" && jobHosts !== undefined && jobHosts.length > 0)
      return jobHosts.map((host) => ({ verb: "job", host }));
    if (command.verb === "jobs") return [{ verb: "job", host: command.host }];
    if (command.verb !== "job" || command.action === "show" || !this.options.jobs)
      return [{ verb: "job", host: undefined }];
    const { job, nodes } = await this.options.jobs.controller.get(command.jobId);
    const verb = aclVerbOf(job.operation);
    return nodes.map((n) => ({ verb, host: n.host }));
  }

  /**
   * A schedule acts later on its host as its pipeline does, so making one needs `schedule` and the
   * pipeline's own verb there; deleting one needs `unschedule` on the host it would act on.
   */
  private async scheduleChecks(
    command: Extract<TypedCommand, { verb: "schedule" | "unschedule" }>,
    target: RunTarget | undefined,
  ): Promise<AccessCheck[]> {
    if (command.verb === "unschedule") {
      const schedules = this.options.schedules;
      const host = schedules ? hostOfSource((await findSchedule(schedules, command.id)).source) : undefined;
      return [{ verb: "unschedule", host }];
    }
    const hosts = target ? targetHosts(target) : "source" in command ? [hostOfSource(command.source)] : [];
    return (hosts.length === 0 ? [undefined] : hosts).flatMap((host) => [
      { verb: "schedule", host },
      { verb: pipelineVerb(command.pipeline), host },
    ]);
  }

  /** The ACL on every check; the first refusal, else the last allowance. */
  private authorize(caller: Caller, command: TypedCommand, checks: AccessCheck[]): AccessDecision {
    // The run's approval rule decides whose approve or deny counts (RunControl.decide checks it);
    // the ACL's part is only that the network vouches for who is asking.
    if ((command.verb === "approve" || command.verb === "deny") && caller.identity !== undefined) {
      return {
        allowed: true,
        roles: rolesOf(this.options.acl, caller.identity),
        reason: "approvals are checked against the run's approval rule",
      };
    }
    let last: AccessDecision | undefined;
    for (const { verb, host } of checks) {
      if (!isChatVerb(verb)) {
        return {
          allowed: false,
          roles: [],
          reason: `${command.verb} is for the machine's operator, on the CLI`,
        };
      }
      last = decide(this.options.acl, {
        identity: caller.identity,
        verb,
        host,
        configuredRoom: caller.configuredRoom,
      });
      if (!last.allowed) return last;
    }
    return last ?? { allowed: false, roles: [], reason: `${command.verb} acts on nothing` };
  }
}

/**
 * Commands only the HTTP API sends, checked as the chat command that reads the same thing: a page
 * of runs as history (on its host filter, when it has one), a run's event feed as its log.
 */
const ACL_VERB_OF: Partial<Record<TypedCommand["verb"], Verb>> = {
  runs: "history",
  events: "log",
  "node-events": "events",
};

/** Hosts a command names without a target word: `cn=<host>` sources, and history's host. */
function hostsNamed(command: TypedCommand): string[] {
  const host =
    command.verb === "deploy" || command.verb === "run" || (command.verb === "plan" && "source" in command)
      ? hostOfSource(command.source)
      : command.verb === "history"
        ? command.host
        : undefined;
  return host === undefined ? [] : [host];
}

/** One question for the ACL: a verb (a chat verb, else refused off the CLI) on a host, if known. */
interface AccessCheck {
  verb: string;
  host: string | undefined;
}

/** The chat verb a pipeline is, for the ACL: deploy, redeploy and destroy are their own, others `run`. */
export function pipelineVerb(pipeline: string): Verb {
  return pipeline === "deploy" || pipeline === "redeploy" || pipeline === "destroy" ? pipeline : "run";
}

function isChatVerb(verb: string): verb is Verb {
  return Object.hasOwn(COMMANDS, verb);
}

function refuse(why: "rate-limited" | "denied" | "input", message: string): { refused: Reply } {
  return { refused: { kind: "refused", why, message } };
}
