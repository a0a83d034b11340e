/**
 * How chat shows the dispatcher's replies: a few lines, cut to what the network allows, with a
 * pointer to the CLI for the rest. Nothing here acts on runs.
 */
import type { RunDetail } from "../pipeline/run-control.js";
import type { ApprovalRecord, HostPage, RunRecord, RunView, StepRecord } from "../store/run-store.js";
import { dumpYaml } from "../clipboard/yaml.js";
import { COMMANDS, SHORT_HELP, usage } from "../commands/command-parser.js";
import type { Verb } from "../commands/command-parser.js";
import type { Reply } from "../commands/reply.js";
import { formatDuration, lastLine } from "./progress.js";
import { positionText } from "../pipeline/run-events.js";
import type { NodeView } from "../inventory/node-view.js";
import { approversName, awaitingText, decideCommands, decisionsText } from "../pipeline/approval-text.js";
import { targetName } from "../pipeline/run-target.js";
import { scheduleLine } from "../schedule/schedule-text.js";
import type { NodeEventRecord } from "../store/node-event-store.js";

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
    case "host-index":
      return hosts(reply.page);
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
    case "runs":
      return { text: reply.page.runs.map(historyLine).join("\n") || "no runs" };
    case "deleted":
      return { text: `run ${reply.runId} deleted` };
    case "event-stream":
      return { text: statusLine({ run: reply.run, steps: [] }) };
    case "help":
      return help(reply.topic, ctx.botName);
    case "whoami":
      return {
        text: `you are ${reply.identity}; roles: ${reply.roles.length > 0 ? reply.roles.join(", ") : "none (read-only commands in jarvis's rooms)"}`,
      };
    case "hosts":
      return hostsText(reply.nodes, reply.where, ctx.maxLines);
    case "approval":
      return { text: approvalLine(reply, ctx.botName) };
    case "following":
      return {
        text: reply.run
          ? `following ${targetName(reply.target)} (run ${reply.run.id}, ${reply.run.state.replace("_", " ")}): its step output comes here until it ends; stop with ${ctx.botName}: unfollow`
          : `following ${targetName(reply.target)}: its next run's step output comes here; stop with ${ctx.botName}: unfollow`,
      };
    case "unfollowing":
      return { text: `no longer following ${reply.target ? targetName(reply.target) : "anything"} here` };
    case "job":
      return jobText(reply, ctx.maxLines);
    case "jobs":
      return {
        text: reply.jobs.map((j) => `job ${j.id} ${j.operation.kind}: ${j.state}`).join("\n") || "no jobs",
        ...(reply.next ? { pointer: "older ones: jarvis jobs on the CLI" } : {}),
      };
    case "job-deleted":
      return { text: `job ${reply.jobId} deleted` };
    case "scheduled":
      return {
        text: `scheduled ${scheduleLine(reply.schedule)}; delete it with: unschedule ${reply.schedule.id}`,
      };
    case "schedules":
      return {
        text: reply.schedules.map(scheduleLine).join("\n") || "no schedules",
        pointer: "all of them: jarvis schedules on the CLI",
      };
    case "unscheduled":
      return { text: `schedule ${reply.id} deleted` };
    case "node-events":
      return nodeEventsText(reply.events, reply.host);
    case "refused":
      return { text: reply.why === "denied" ? `denied: ${reply.message}` : reply.message };
    case "failed":
      return { text: `error: ${reply.message}` };
  }
}

function approvalLine(reply: Extract<Reply, { kind: "approval" }>, botName: string): string {
  const { run } = reply;
  switch (reply.outcome) {
    case "approved":
      return `${run.host}: run ${run.id} approved (${reply.approvals}/${reply.needed}); it is queued`;
    case "denied":
      return `${run.host}: run ${run.id} denied and cancelled`;
    case "already-approved":
      return `${run.host}: you approved run ${run.id} already (${reply.approvals}/${reply.needed})`;
    case "recorded":
      return `${run.host}: approval recorded for run ${run.id} (${reply.approvals}/${reply.needed}); ${decideCommands(run.id, botName)}`;
  }
}

function hosts(page: HostPage): ChatText {
  if (page.total === 0) return { text: "no runs yet" };
  const more = page.total - page.hosts.length;
  const lines = page.hosts.map((h) => statusLine({ run: h.latest, steps: [] }));
  if (more > 0) lines.push(`... and ${more} more hosts (all ${page.total}: jarvis status on the CLI)`);
  return { text: lines.join("\n"), pointer: "all hosts: jarvis status on the CLI" };
}

function status(details: RunDetail[]): ChatText {
  if (details.length === 0) return { text: "no runs yet" };
  return {
    text: details.map((d) => statusLine(d)).join("\n"),
    pointer: "all hosts: jarvis status on the CLI",
  };
}

/** One line of `status`: where a host's latest run stands. */
export function statusLine({
  run,
  steps,
  approvals = [],
}: {
  run: RunView;
  steps: StepRecord[];
  approvals?: ApprovalRecord[] | undefined;
}): string {
  // on_failure steps never move stepIndex: a failed run names the main step that failed.
  const name = run.stepName ?? steps.filter((s) => !s.onFailure)[run.stepIndex]?.name;
  const at =
    name !== undefined && run.stepIndex >= 0
      ? positionText({ phase: "main", index: run.stepIndex, total: run.totalSteps, name })
      : `step ${run.stepIndex + 1}/${run.totalSteps}`;
  const since = run.finishedAt ?? run.startedAt ?? run.createdAt;
  const ago = `${formatDuration(Date.now() - since)} ago`;
  const decided = decisionsText(approvals);
  const decisions = decided ? `, ${decided}` : "";
  switch (run.state) {
    case "awaiting_approval":
      return `${run.host}: ${run.pipeline} ${awaitingText(run, approvals, Date.now())} (run ${run.id}, by ${run.requestedBy})`;
    case "queued":
      return `${run.host}: ${run.pipeline} queued (run ${run.id}, by ${run.requestedBy}${decisions})`;
    case "running":
      return `${run.host}: ${run.pipeline} running ${at} (run ${run.id}, by ${run.requestedBy}, started ${ago})`;
    case "succeeded":
      return `${run.host}: ${run.pipeline} succeeded (run ${run.id}, ${ago}${decisions})`;
    case "cancelled":
      return `${run.host}: ${run.pipeline} cancelled at ${at}${run.error ? `: ${lastLine(run.error.message)}` : ""} (run ${run.id}, ${ago}${decisions})`;
    case "failed":
      return `${run.host}: ${run.pipeline} FAILED at ${at}: ${run.error ? `${lastLine(run.error.message)} [${run.error.code}]` : "no error message"} (run ${run.id}, ${ago})`;
  }
}

function hostsText(nodes: NodeView[], where: string | undefined, maxLines: number): ChatText {
  const what = where === undefined ? "" : ` where ${where}`;
  if (nodes.length === 0) return { text: `no nodes${what}` };
  const shown = nodes.slice(0, Math.max(1, maxLines - 1)).map(nodeLine);
  const more = nodes.length - shown.length;
  return {
    text: [`${nodes.length} node(s)${what}${more > 0 ? ` (first ${shown.length})` : ""}:`, ...shown].join(
      "\n",
    ),
    pointer: `all of them: jarvis hosts${where === undefined ? "" : " --where '...'"} on the CLI`,
  };
}

/** One node: online or not, when last heard from, its agent's version and its groups. */
export function nodeLine(node: NodeView): string {
  const seen =
    node.lastSeen === null ? "never seen" : `seen ${formatDuration(Date.now() - node.lastSeen)} ago`;
  const groups = node.groups.length > 0 ? `, groups ${node.groups.join(",")}` : "";
  return `${node.host}: ${node.online ? "online" : "offline"} (${seen}, agent ${node.agentVersion ?? "?"}${groups})`;
}

function historyLine(run: RunRecord): string {
  const when = new Date(run.createdAt).toISOString().replace("T", " ").slice(0, 16);
  const approval = run.approval
    ? `, needed ${run.approval.count} approval(s) from ${approversName(run.approval.role)}`
    : "";
  const why = run.state === "cancelled" && run.error ? `: ${lastLine(run.error.message)}` : "";
  return `${when} ${run.pipeline} ${run.state}${why} (run ${run.id}, by ${run.requestedBy}, from ${run.source}${approval})`;
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

/** A job in a few lines: its state, then one line per node (state, exit code, output's last line). */
function jobText(reply: Extract<Reply, { kind: "job" }>, maxLines: number): ChatText {
  const { job, nodes } = reply;
  const head = `job ${job.id} ${job.operation.kind}: ${job.state}${job.finishedAt === null ? " (say job " + job.id + " for more)" : ""}`;
  const lines = nodes.slice(0, Math.max(1, maxLines - 1)).map((n) => {
    const tail = (n.stdoutTail || n.stderrTail || n.message).trim().split("\n").pop() ?? "";
    return `${n.host}: ${n.state}${n.exitCode === null ? "" : ` (exit ${n.exitCode})`}${n.receivedAt === null ? "" : ", ACK"}${tail ? ` ${tail.slice(0, 120)}` : ""}`;
  });
  const more = nodes.length - lines.length;
  return { text: [head, ...lines, ...(more > 0 ? [`... and ${more} more`] : [])].join("\n") };
}

/** `events [host]`: newest first, one line each: when, node, kind and what it carries. */
function nodeEventsText(events: NodeEventRecord[], host: string | undefined): ChatText {
  if (events.length === 0) return { text: host ? `no events from ${host}` : "no events" };
  const lines = events.map((e) => {
    const data = JSON.stringify(e.data);
    return `${new Date(e.receivedAt).toISOString()} ${e.host} ${e.kind} ${data.length > 200 ? `${data.slice(0, 200)}…` : data}`;
  });
  return {
    text: lines.join("\n"),
    pointer: `more: jarvis events${host === undefined ? "" : ` ${host}`} on the CLI`,
  };
}
