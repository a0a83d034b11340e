/**
 * Runs one allowed command through RunControl, the only way any front acts on runs, and answers
 * with a reply record. Targets arrive resolved (the ACL has seen their hosts); nothing here reads
 * a word's shape.
 */
import { CommandError } from "../errors.js";
import type { RunControl, Requester } from "../pipeline/run-control.js";
import type { RunTarget } from "../pipeline/run-target.js";
import type { Reply } from "./reply.js";
import type { TypedCommand } from "./typed-command.js";
import type { FileAccess } from "../clipboard/sources/design-source.js";

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
}

/** Execute `command`; `target` is its resolved `<host|run|group>` word, when it has one. */
export async function executeCommand(
  command: TypedCommand,
  target: RunTarget | undefined,
  ctx: ExecuteContext,
): Promise<Reply> {
  const { control, who } = ctx;
  const resolved = (): RunTarget => {
    if (!target) throw new Error(`${command.verb}: its target was not resolved before execution`);
    return target;
  };
  switch (command.verb) {
    case "deploy":
      return {
        kind: "started",
        verb: "deploy",
        runs: await control.startAll("deploy", command.source, who, { fileAccess: ctx.fileAccess }),
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
    case "resume":
      return { kind: "resumed", run: await control.resume(resolved()) };
    case "cancel":
      return { kind: "cancelling", run: await control.cancel(resolved(), who) };
    case "status":
      return { kind: "status", target, details: await control.status(target) };
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
    case "history":
      return {
        kind: "history",
        host: command.host,
        runs: await control.history(command.host, command.limit),
      };
    case "pipelines":
      return { kind: "pipelines", pipelines: await control.pipelines() };
    case "audit":
      return { kind: "audit", entries: await control.listAudit(command.limit) };
    case "help":
      return { kind: "help", topic: command.topic };
    case "whoami":
      return { kind: "whoami", identity: who.identity, roles: ctx.roles };
  }
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
