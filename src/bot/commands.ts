/**
 * How chat shows the dispatcher's replies: a few lines, cut to what the network allows, with a
 * pointer to the CLI for the rest. Nothing here acts on runs.
 */
import type { RunDetail } from "../pipeline/run-control.js";
import { targetName } from "../pipeline/run-target.js";
import type { RunRecord } from "../store/run-store.js";
import { dumpYaml } from "../clipboard/yaml.js";
import { COMMANDS, SHORT_HELP, usage } from "../commands/command-parser.js";
import type { Verb } from "../commands/command-parser.js";
import type { Reply } from "../commands/reply.js";
import { formatDuration, lastLine } from "./progress.js";
import { positionText } from "../pipeline/run-events.js";

/** A reply as chat shows it. */
export interface ChatText {
  text: string;
  /** Where to see everything when the text is cut. */
  pointer?: string;
}

/** What rendering needs to know about the chat. */
export interface ChatRenderContext {
  botName: string;
  /** Lines the network shows in one reply (the rest is cut with a pointer). */
  maxLines: number;
}

/** The chat text of a reply. */
export function renderChatReply(reply: Reply, ctx: ChatRenderContext): ChatText {
  switch (reply.kind) {
    case "started":
      return {
        text: reply.runs
          .map((run) =>
            run.plan
              ? `${run.host}: plan of ${run.pipeline} queued as run ${run.id}; nothing will be changed, the summary follows here`
              : `${run.host}: ${run.pipeline} queued as run ${run.id} (${run.totalSteps} steps); progress follows here`,
          )
          .join("\n"),
      };
    case "retrying":
      return { text: `${reply.run.host}: retrying from the failed step; progress follows here` };
    case "resumed":
      return { text: statusLine({ run: reply.run, steps: [] }) };
    case "cancelling": {
      const { run } = reply;
      return { text: `${run.host}: cancel requested for run ${run.id} (${run.pipeline})` };
    }
    case "status":
      return status(reply.details);
    case "log": {
      const name = targetName(reply.target);
      const { lines } = reply;
      if (lines.length === 0) return { text: `${name}: the log is empty` };
      const shown = lines.slice(-Math.max(1, ctx.maxLines - 1)).map((l) => `[${l.stepIndex + 1}] ${l.line}`);
      const skipped = lines.length - shown.length;
      return {
        text: `${skipped > 0 ? `${name}: last ${shown.length} of ${lines.length} log lines (full log: jarvis log ${name} on the CLI)\n` : ""}${shown.join("\n")}`,
        pointer: `full log: jarvis log ${name} on the CLI`,
      };
    }
    case "clipboard": {
      const name = targetName(reply.target);
      return {
        text: dumpYaml(reply.value),
        pointer: `whole clipboard: jarvis clipboard ${name}${reply.step !== undefined ? ` --step ${reply.step}` : ""} on the CLI`,
      };
    }
    case "diff": {
      const name = targetName(reply.target);
      return {
        text:
          reply.text.trim() === ""
            ? `${name}: step ${reply.step} changed nothing on the clipboard`
            : reply.text,
        pointer: `whole diff: jarvis diff ${name} ${reply.step} on the CLI`,
      };
    }
    case "history":
      if (reply.runs.length === 0) return { text: `${reply.host}: no runs yet` };
      return {
        text: reply.runs.map(historyLine).join("\n"),
        pointer: `more: jarvis history ${reply.host} on the CLI`,
      };
    case "pipelines":
      if (reply.pipelines.length === 0)
        return { text: "no pipelines loaded; check pipelines.dirs in jarvis.yml" };
      return {
        text: reply.pipelines.map((p) => `${p.name} (${p.steps.length} steps): ${p.description}`).join("\n"),
        pointer: "details: jarvis pipelines on the CLI",
      };
    case "audit":
      return { text: `${reply.entries.length} audit entries; see: jarvis audit on the CLI` };
    case "help":
      return help(reply.topic, ctx.botName);
    case "whoami":
      return {
        text: `you are ${reply.identity}; roles: ${reply.roles.length > 0 ? reply.roles.join(", ") : "none (read-only commands in jarvis's rooms)"}`,
      };
    case "refused":
      return { text: reply.why === "denied" ? `denied: ${reply.message}` : reply.message };
    case "failed":
      return { text: `error: ${reply.message}` };
  }
}

function status(details: RunDetail[]): ChatText {
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
      return `${run.host}: ${run.pipeline} FAILED at ${at}: ${run.error ? `${lastLine(run.error.message)} [${run.error.code}]` : "no error message"} (run ${run.id}, ${ago})`;
  }
}

function historyLine(run: RunRecord): string {
  const when = new Date(run.createdAt).toISOString().replace("T", " ").slice(0, 16);
  return `${when} ${run.pipeline} ${run.state} (run ${run.id}, by ${run.requestedBy}, from ${run.source})`;
}

function help(topic: string | undefined, botName: string): ChatText {
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
