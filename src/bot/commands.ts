/**
 * Executes parsed commands through RunControl, the only way the chat front acts on runs. Each
 * function returns the reply text (and a pointer to the full output where it may be cut); errors
 * from RunControl are turned into one-line replies by the bot.
 */
import type { RunControl, Requester, RunDetail } from "../pipeline/run-control.js";
import type { RunRecord } from "../store/run-store.js";
import { COMMANDS, SHORT_HELP, usage } from "./command-parser.js";
import type { Command, Verb } from "./command-parser.js";
import { formatDuration, lastLine } from "./progress.js";
import { positionText } from "../pipeline/run-events.js";

/** A reply to a command. */
export interface Reply {
  text: string;
  /** Where to see everything when the text is cut. */
  pointer?: string;
  /** The run the command created or acted on, for the audit log. */
  runId?: string;
}

/** What a command needs besides its words. */
export interface CommandContext {
  control: RunControl;
  who: Requester;
  botName: string;
  /** Lines the network shows in one reply (the rest is cut with a pointer). */
  maxLines: number;
  /** For whoami. */
  roles: string[];
}

/** The host a command acts on, when it can be known before running it (for the ACL). */
export function commandHost(command: Command): string | undefined {
  const { verb, args } = command;
  switch (verb) {
    case "deploy":
      return hostOfSource(args[0] ?? "");
    case "run":
      return hostOfSource(args[1] ?? "");
    case "redeploy":
    case "destroy":
    case "retry":
    case "cancel":
    case "status":
    case "log":
    case "clipboard":
    case "diff":
    case "history":
      return args[0];
    default:
      return undefined;
  }
}

/** `cn=loki` names its host; a file, URL or gist does not until it is loaded. */
export function hostOfSource(source: string): string | undefined {
  const m = /^cn=([^,\s]+)/i.exec(source);
  return m?.[1];
}

/** The optional last word of redeploy/destroy/retry: `force` lets production:check through. */
function forced(word: string | undefined): boolean {
  if (word === undefined) return false;
  if (word === "force" || word === "--force") return true;
  throw new CommandInputError(
    `'${word}' is not understood here; the only word allowed after the host is 'force'`,
  );
}

/** Run one allowed command. */
export async function executeCommand(command: Command, ctx: CommandContext): Promise<Reply> {
  const { control, who } = ctx;
  const [a = "", b] = command.args;
  switch (command.verb) {
    case "deploy":
      return started(await control.start("deploy", a, who));
    case "run":
      return started(await control.start(a, b ?? "", who));
    case "redeploy":
    case "destroy":
      return started(
        await control.start(command.verb, await sourceOfHost(control, a), who, { force: forced(b) }),
      );
    case "retry":
      return {
        ...started(await control.retry(a, who, undefined, { force: forced(b) })),
        text: `${a}: retrying from the failed step; progress follows here`,
      };
    case "cancel": {
      const run = await control.cancel(a, who);
      return { text: `${run.host}: cancel requested for run ${run.id} (${run.pipeline})`, runId: run.id };
    }
    case "status":
      return status(await control.status(command.args[0]));
    case "log": {
      const lines = await control.log(a);
      if (lines.length === 0) return { text: `${a}: the log is empty` };
      const shown = lines.slice(-Math.max(1, ctx.maxLines - 1)).map((l) => `[${l.stepIndex + 1}] ${l.line}`);
      const skipped = lines.length - shown.length;
      return {
        text: `${skipped > 0 ? `${a}: last ${shown.length} of ${lines.length} log lines (full log: jarvis log ${a} on the CLI)\n` : ""}${shown.join("\n")}`,
        pointer: `full log: jarvis log ${a} on the CLI`,
      };
    }
    case "clipboard": {
      const step = b === undefined ? undefined : stepNumber(b);
      return {
        text: await control.clipboard(a, step),
        pointer: `whole clipboard: jarvis clipboard ${a}${b ? ` ${b}` : ""} on the CLI`,
      };
    }
    case "diff": {
      const text = await control.diff(a, stepNumber(b ?? ""));
      return {
        text: text.trim() === "" ? `${a}: step ${b} changed nothing on the clipboard` : text,
        pointer: `whole diff: jarvis diff ${a} ${b} on the CLI`,
      };
    }
    case "history": {
      const runs = await control.history(a, 10);
      if (runs.length === 0) return { text: `${a}: no runs yet` };
      return { text: runs.map(historyLine).join("\n"), pointer: `more: jarvis history ${a} on the CLI` };
    }
    case "pipelines": {
      const list = await control.pipelines();
      if (list.length === 0) return { text: "no pipelines loaded; check pipelines.dirs in jarvis.yml" };
      return {
        text: list.map((p) => `${p.name} (${p.steps.length} steps): ${p.description}`).join("\n"),
        pointer: "details: jarvis pipelines on the CLI",
      };
    }
    case "help":
      return help(command.args[0], ctx.botName);
    case "whoami":
      return {
        text: `you are ${who.identity}; roles: ${ctx.roles.length > 0 ? ctx.roles.join(", ") : "none (read-only commands in jarvis's rooms)"}`,
      };
  }
}

/** The source a host was last deployed from, else its LDAP entry. */
async function sourceOfHost(control: RunControl, host: string): Promise<string> {
  const [latest] = await control.history(host, 1);
  return latest?.source ?? `cn=${host}`;
}

function started(run: RunRecord): Reply {
  return {
    text: `${run.host}: ${run.pipeline} queued as run ${run.id} (${run.totalSteps} steps); progress follows here`,
    runId: run.id,
  };
}

function stepNumber(text: string): number {
  if (!/^[1-9][0-9]{0,3}$/.test(text)) {
    throw new CommandInputError(
      `'${text.slice(0, 20)}' is not a step number; steps are counted from 1 (see status)`,
    );
  }
  return Number(text);
}

/** Bad arguments found while running a command (the parser cannot know step numbers are numbers). */
export class CommandInputError extends Error {}

function status(details: RunDetail[]): Reply {
  if (details.length === 0) return { text: "no runs yet" };
  return {
    text: details.map((d) => statusLine(d)).join("\n"),
    pointer: "all hosts: jarvis status on the CLI",
  };
}

/** One line of `status`: where a host's latest run stands. */
export function statusLine({ run, steps }: RunDetail): string {
  // on_failure steps never move stepIndex: a failed run names the main step that failed.
  const step = steps.filter((s) => !s.onFailure)[run.stepIndex];
  const at = step
    ? positionText({ phase: "main", index: run.stepIndex, total: run.totalSteps, name: step.name })
    : `step ${run.stepIndex + 1}/${run.totalSteps}`;
  const since = run.finishedAt ?? run.startedAt ?? run.createdAt;
  const ago = `${formatDuration(Date.now() - since)} ago`;
  switch (run.state) {
    case "queued":
      return `${run.host}: ${run.pipeline} queued (run ${run.id}, by ${run.requestedBy})`;
    case "running":
      return `${run.host}: ${run.pipeline} running ${at} (run ${run.id}, by ${run.requestedBy}, started ${ago})`;
    case "succeeded":
      return `${run.host}: ${run.pipeline} succeeded (run ${run.id}, ${ago})`;
    case "cancelled":
      return `${run.host}: ${run.pipeline} cancelled at ${at} (run ${run.id}, ${ago})`;
    case "failed":
      return `${run.host}: ${run.pipeline} FAILED at ${at}: ${run.error ? lastLine(run.error.message) : "no error message"} (run ${run.id}, ${ago})`;
  }
}

function historyLine(run: RunRecord): string {
  const when = new Date(run.createdAt).toISOString().replace("T", " ").slice(0, 16);
  return `${when} ${run.pipeline} ${run.state} (run ${run.id}, by ${run.requestedBy}, from ${run.source})`;
}

function help(topic: string | undefined, botName: string): Reply {
  if (topic !== undefined) {
    const verb = topic.toLowerCase();
    if (!Object.hasOwn(COMMANDS, verb)) return { text: `no command '${topic.slice(0, 40)}'; ${SHORT_HELP}` };
    return { text: `usage: ${botName}: ${usage(verb as Verb)}` };
  }
  return {
    text: Object.keys(COMMANDS)
      .map((v) => usage(v as Verb))
      .join("\n"),
    pointer: `one command: ${botName}: help <command>`,
  };
}
