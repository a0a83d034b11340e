/**
 * The one way a command enters jarvis, whichever front it came from (chat, CLI, later the HTTP
 * API): words -> typed command -> rate limit -> target resolved against the store -> ACL on the
 * resolved host(s) -> execute through RunControl -> reply record, with exactly one audit entry
 * per command, refusals included. Fronts only render the reply.
 */
import { CommandError, errorMessage } from "../errors.js";
import { targetHosts } from "../pipeline/run-target.js";
import type { RunControl } from "../pipeline/run-control.js";
import type { RunTarget } from "../pipeline/run-target.js";
import { decide, rolesOf } from "./acl.js";
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
        reply = await executeCommand(checked.command, checked.target, {
          control: this.options.control,
          who: { identity: caller.identity ?? caller.label, origin: caller.origin },
          roles: caller.localOperator ? ["local operator"] : rolesOf(this.options.acl, caller.identity),
          fileAccess: caller.localOperator && request.front === "cli" ? "any" : "designs-dirs",
        });
      }
    } catch (error) {
      const message = errorMessage(error).split("\n")[0] ?? "";
      reply =
        error instanceof CommandError
          ? { kind: "refused", why: "input", message }
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
  private async admit(
    request: DispatchRequest,
  ): Promise<{ refused: Reply } | { command: TypedCommand; target: RunTarget | undefined; reason: string }> {
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
      command = typeChatCommand(parsed.command.verb, parsed.command.args);
    }
    const target = await this.resolve(command);
    if (caller.localOperator) return { command, target, reason: `local operator on the ${request.front}` };
    const decision = this.authorize(caller, command, target);
    if (!decision.allowed) {
      const why =
        caller.identity === undefined && caller.identityProblem ? ` (${caller.identityProblem})` : "";
      return refuse("denied", `${decision.reason}${why}`);
    }
    return { command, target, reason: decision.reason };
  }

  private async resolve(command: TypedCommand): Promise<RunTarget | undefined> {
    if (!("target" in command) || command.target === undefined) return undefined;
    return this.options.control.resolveTarget(command.target);
  }

  /** The ACL on every host the command acts on; a command that names none is checked as such. */
  private authorize(caller: Caller, command: TypedCommand, target: RunTarget | undefined): AccessDecision {
    const verb = command.verb;
    const ask = (chatVerb: Verb, host: string | undefined): AccessDecision =>
      decide(this.options.acl, {
        identity: caller.identity,
        verb: chatVerb,
        host,
        configuredRoom: caller.configuredRoom,
      });
    if (!isChatVerb(verb)) {
      return { allowed: false, roles: [], reason: `${verb} is for the machine's operator, on the CLI` };
    }
    const hosts = target ? targetHosts(target) : hostsNamed(command);
    if (hosts.length === 0) return ask(verb, undefined);
    let last: AccessDecision | undefined;
    for (const host of hosts) {
      last = ask(verb, host);
      if (!last.allowed) return last;
    }
    return last!;
  }
}

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

function isChatVerb(verb: string): verb is Verb {
  return Object.hasOwn(COMMANDS, verb);
}

function refuse(why: "rate-limited" | "denied" | "input", message: string): { refused: Reply } {
  return { refused: { kind: "refused", why, message } };
}
