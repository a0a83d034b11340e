/**
 * Commands as every front hands them to the dispatcher: one variant per verb, its arguments
 * typed. Targets stay the words people gave (`target`): the dispatcher resolves them against the
 * store before the ACL looks at them, so a word is never read by its shape.
 */
import { CommandError } from "../errors.js";
import type { Verb } from "./command-parser.js";
import type { HostQuery, RunPageQuery } from "../store/run-store.js";
import type { BatchSize, JobOperation, JobOptions, JobTargets } from "../jobs/job.js";
import type { JobCursor } from "../jobs/job-store.js";
import type { RerunScope } from "../jobs/job-controller.js";
import { batchOf, jobTargetsOf } from "./job-targets.js";
import { splitWordSpans } from "./command-parser.js";
import type { Misfire } from "../store/schedule-store.js";
import type { ScheduleWhen } from "../schedule/schedule-book.js";
import { scheduleWords } from "../schedule/schedule-words.js";

/**
 * A `<host|run|group>` word as people typed it, resolved by the rule of run-target.ts; or a run id
 * from a front that names runs only (the HTTP API's /runs/{id}), which never means a host.
 */
export type TargetWord = string | { run: string };

/** A command with typed arguments. */
export type TypedCommand =
  /** `planThenApply`: plan first, apply once approved (chat `deploy cn=loki after plan`). */
  | { verb: "deploy"; source: string; planThenApply?: boolean }
  | {
      verb: "run";
      pipeline: string;
      source: string;
      force: boolean;
      foreground: boolean;
      /** The design itself (the API's inline `design`); `source` then only labels it. */
      designText?: string;
      /** A plan run (`jarvis run ... --plan`, the API's `{plan: true}`). */
      plan?: boolean;
      /** Plan, then apply once approved (`--plan-then-apply`, the API's `{plan_then_apply: true}`). */
      planThenApply?: boolean;
    }
  /** A plan run of deploy (of a design) or of redeploy/destroy (of a host): chat `plan deploy cn=loki`. */
  | { verb: "plan"; pipeline: "deploy"; source: string }
  | { verb: "plan"; pipeline: "redeploy" | "destroy"; target: TargetWord }
  | { verb: "redeploy" | "destroy"; target: TargetWord; force: boolean; planThenApply?: boolean }
  | { verb: "retry"; target: TargetWord; force: boolean; foreground: boolean; clipboardYaml?: string }
  | { verb: "resume"; target: TargetWord }
  /** The run (or a host's latest run) `target` names, again on other hosts' designs or on sources. */
  | { verb: "replay"; target: TargetWord; onto: ReplayOnto; foreground?: boolean }
  | { verb: "cancel"; target: TargetWord }
  /** Without a target: every host from the per-host index, one page (`page`, else CHAT_STATUS_LIMIT). */
  | { verb: "status"; target?: TargetWord; page?: HostQuery }
  | { verb: "log"; target: TargetWord }
  | { verb: "clipboard"; target: TargetWord; step?: number }
  | { verb: "diff"; target: TargetWord; step: number }
  /** `before`: a run id, the keyset cursor of the page before. */
  | { verb: "history"; host: string; limit: number; before?: string }
  | { verb: "pipelines" }
  | { verb: "audit"; limit: number; since?: number; identity?: string }
  /** A page of runs (the API's GET /runs). */
  | { verb: "runs"; query: RunPageQuery }
  | { verb: "delete"; target: TargetWord }
  /** Follow one run's event feed (the API's /runs/{id}/events): checked as reading its log. */
  | { verb: "events"; target: TargetWord }
  | { verb: "help"; topic?: string }
  | { verb: "whoami" }
  /** `where`: a selector's text as written (src/inventory/selector-parser.ts parses it). */
  | { verb: "hosts"; where?: string }
  | { verb: "approve"; target: TargetWord }
  | { verb: "deny"; target: TargetWord; reason: string }
  /** Chat only: the room gets the step output of the host's or run's current run. */
  | { verb: "follow"; target: string }
  /** A future or recurring run: redeploy and destroy of a host (`target`), other pipelines on a source. */
  | ({ verb: "schedule"; when: ScheduleWhen; misfire: Misfire; force: boolean } & (
      { pipeline: "redeploy" | "destroy"; target: TargetWord } | { pipeline: string; source: string }
    ))
  | { verb: "schedules" }
  | { verb: "unschedule"; id: string }
  /** Chat only: stop following one host or run, or (no target) everything the room follows. */
  | { verb: "unfollow"; target?: string }
  /** Jobs on the agents; `targets` are resolved to hosts (globs, selectors) before the ACL. */
  | { verb: "ping"; targets: JobTargets; batch?: BatchSize }
  | { verb: "execute"; command: string; targets: JobTargets; batch?: BatchSize }
  | {
      verb: "service";
      name: string;
      state: "started" | "stopped" | "restarted";
      targets: JobTargets;
      batch?: BatchSize;
    }
  /** The agents' latest events, of one node or of all (chat `events [host]`); `before`: an event id. */
  | { verb: "node-events"; host?: string; limit: number; before?: string }
  | { verb: "job"; action: "show" | "cancel"; jobId: string }
  /** `atOnce`: answer with the new job as soon as it is made (the API); chat waits for its end. */
  | { verb: "job"; action: "rerun"; jobId: string; only: RerunScope; atOnce?: boolean }
  /** Delete a finished job's record (the API's DELETE /jobs/{jid}): checked as its operation on its hosts. */
  | { verb: "job"; action: "delete"; jobId: string }
  /**
   * Any operation, from a front that types it itself (the HTTP API's POST /jobs); answered as soon
   * as the job is made. Options left out take jarvis.yml's `agents:` defaults.
   */
  | {
      verb: "job";
      action: "start";
      operation: JobOperation;
      targets: JobTargets;
      options: Partial<JobOptions>;
    }
  /**
   * A page of jobs, newest first (GET /jobs, GET /nodes/{host}/jobs): of one host, of the hosts a
   * selector matches now (`where`), or made with exactly that selector (`selector`).
   */
  | { verb: "jobs"; limit: number; host?: string; where?: string; selector?: string; before?: JobCursor };

/** Where a replay goes: hosts (each host's design: its latest run's source, else `cn=<host>`), or sources. */
export type ReplayOnto = { hosts: string[] } | { sources: string[] };

/** Every verb the dispatcher executes (chat knows a subset: command-parser.ts COMMANDS). */
export type CommandVerb = TypedCommand["verb"];

/** How many runs `history` lists in chat, where lines are dear. */
export const CHAT_HISTORY_LIMIT = 10;

/** How many events `events` lists in chat. */
export const CHAT_EVENTS_LIMIT = 10;

/** How many jobs `jobs` lists in chat. */
export const CHAT_JOBS_LIMIT = 10;

/** How many hosts `status` without a host lists in chat (the CLI lists them all). */
export const CHAT_STATUS_LIMIT = 10;

/**
 * Type a chat command's words (their count was checked by the parser); `text` is the command as
 * written, for `hosts where`, whose selector keeps its own quoting.
 */
export function typeChatCommand(verb: Verb, args: readonly string[], text = ""): TypedCommand {
  const [a = "", b] = args;
  switch (verb) {
    case "deploy":
    case "redeploy":
    case "destroy":
      return runVerbCommand(verb, args);
    case "run":
      // `run "<command>" on <nodes>` is a job; `run <pipeline> <source>` has two words only.
      if (args.length === 2) return { verb, pipeline: a, source: b ?? "", force: false, foreground: false };
      if (b?.toLowerCase() !== "on")
        throw new CommandError("E_USAGE", `usage: run <pipeline> <source>, or run "<command>" on <nodes>`);
      return { verb: "execute", command: a, ...jobWords(text, args, 2) };
    case "execute":
      if (b?.toLowerCase() !== "on")
        throw new CommandError(
          "E_USAGE",
          `usage: execute "<command>" on <nodes: web-* | group=web | any selector>`,
        );
      return { verb, command: a, ...jobWords(text, args, 2) };
    case "ping":
      return { verb, ...jobWords(text, args, 0) };
    case "service":
      return serviceCommand(args, text);
    case "job":
      return jobCommand(args);
    case "retry":
      return { verb, target: a, force: forced(b), foreground: false };
    case "replay":
      if (b?.toLowerCase() !== "on") {
        throw new CommandError(
          "E_USAGE",
          `replay names the run or host to replay, then 'on' and the hosts; e.g. replay loki on thor odin`,
        );
      }
      return { verb, target: a, onto: { hosts: args.slice(2) } };
    case "cancel":
    case "log":
    case "approve":
    case "follow":
    case "delete":
      return { verb, target: a };
    case "deny":
      return { verb, target: a, reason: args.slice(1).join(" ") };
    case "unfollow":
      return args.length === 0 ? { verb } : { verb, target: a };
    case "status":
      return args.length === 0 ? { verb, page: { limit: CHAT_STATUS_LIMIT } } : { verb, target: a };
    case "clipboard":
      return b === undefined ? { verb, target: a } : { verb, target: a, step: stepNumber(b, 0) };
    case "diff":
      return { verb, target: a, step: stepNumber(b ?? "", 1) };
    case "history":
      return { verb, host: a, limit: CHAT_HISTORY_LIMIT };
    case "plan":
      return planCommand(a, b ?? "");
    case "pipelines":
    case "whoami":
      return { verb };
    case "audit":
      return { verb, limit: CHAT_HISTORY_LIMIT };
    case "help":
      return args.length === 0 ? { verb } : { verb, topic: a };
    case "hosts":
      return args.length === 0 ? { verb } : { verb, where: selectorText(verb, args, text) };
    case "jobs":
      if (args.length === 0) return { verb, limit: CHAT_JOBS_LIMIT };
      if (args.length === 1 && a.toLowerCase() !== "where") return { verb, limit: CHAT_JOBS_LIMIT, host: a };
      return { verb, limit: CHAT_JOBS_LIMIT, where: selectorText(verb, args, text) };
    case "schedule":
      return scheduleCommand(args);
    case "schedules":
      return { verb };
    case "unschedule":
      return { verb, id: a };
    case "events":
      return args.length === 0
        ? { verb: "node-events", limit: CHAT_EVENTS_LIMIT }
        : { verb: "node-events", host: a, limit: CHAT_EVENTS_LIMIT };
  }
}

/**
 * `deploy <source>`, `redeploy|destroy <host> [force]`, each optionally ending `after plan`: plan
 * first, then apply once approved.
 */
function runVerbCommand(verb: "deploy" | "redeploy" | "destroy", args: readonly string[]): TypedCommand {
  const last = args.slice(-2).map((w) => w.toLowerCase());
  const afterPlan = args.length >= 3 && last[0] === "after" && last[1] === "plan";
  const [word = "", extra, ...rest] = afterPlan ? args.slice(0, -2) : args;
  const plan = afterPlan ? { planThenApply: true } : {};
  if (verb === "deploy") {
    if (extra !== undefined)
      throw new CommandError(
        "E_USAGE",
        "usage: deploy <source> [after plan], e.g. deploy cn=loki after plan",
      );
    return { verb, source: word, ...plan };
  }
  if (rest.length > 0) throw new CommandError("E_USAGE", `usage: ${verb} <host> [force] [after plan]`);
  return { verb, target: word, force: forced(extra), ...plan };
}

/**
 * The nodes from `args[from]` on (a selector, taken from `text` as typed so its quotes hold) and
 * the optional trailing `--batch N|N%`. `text` is the whole command, verb first, as `args` came
 * from it.
 */
function jobWords(
  text: string,
  args: readonly string[],
  from: number,
): { targets: JobTargets; batch?: BatchSize } {
  const spans = splitWordSpans(text);
  if (typeof spans === "string" || spans.length !== args.length + 1)
    throw new Error("a job command's words must come with the text they were split from");
  const words = args.slice(from);
  const at = words.findIndex((w) => w === "--batch");
  if (at !== -1 && at !== words.length - 2)
    throw new CommandError("E_USAGE", "--batch N comes last, after the nodes");
  const nodes = spans.slice(from + 1, at === -1 ? undefined : from + 1 + at);
  const first = nodes[0];
  const last = nodes[nodes.length - 1];
  const targets = jobTargetsOf(first && last ? text.slice(first.start, last.end) : "");
  return at === -1 ? { targets } : { targets, batch: batchOf(words[at + 1] ?? "") };
}

function serviceCommand(args: readonly string[], text: string): TypedCommand {
  const [name = "", state = "", on = ""] = args;
  if ((state !== "started" && state !== "stopped" && state !== "restarted") || on.toLowerCase() !== "on")
    throw new CommandError(
      "E_USAGE",
      "usage: service <name> started|stopped|restarted on <nodes> [--batch N]",
    );
  return { verb: "service", name, state, ...jobWords(text, args, 3) };
}

function jobCommand(args: readonly string[]): TypedCommand {
  const [a = "", b, c] = args;
  if (args.length === 1) return { verb: "job", action: "show", jobId: a };
  if (a === "cancel" && b !== undefined && c === undefined)
    return { verb: "job", action: "cancel", jobId: b };
  if (a === "rerun" && b !== undefined) {
    const only = c ?? "failed";
    if (only === "failed" || only === "unreachable" || only === "expired" || only === "all")
      return { verb: "job", action: "rerun", jobId: b, only };
  }
  throw new CommandError(
    "E_USAGE",
    "usage: job <jid> | job cancel <jid> | job rerun <jid> [failed|unreachable|expired|all]",
  );
}

/** `schedule <pipeline> <source|host> at|cron ...`: redeploy and destroy name a host, as in chat. */
export function scheduleCommand(args: readonly string[]): TypedCommand {
  const { pipeline, word, ...rest } = scheduleWords(args);
  return pipeline === "redeploy" || pipeline === "destroy"
    ? { verb: "schedule", pipeline, target: word, ...rest }
    : { verb: "schedule", pipeline, source: word, ...rest };
}

/** The selector after `hosts where` or `jobs where`, as typed: split words would lose its quotes. */
function selectorText(verb: "hosts" | "jobs", args: readonly string[], text: string): string {
  const typed = /^\S+\s+where\s+(\S[\s\S]*)$/iu.exec(text.trim());
  if (args[0]?.toLowerCase() !== "where" || !typed?.[1]) {
    const usage = verb === "hosts" ? "hosts [where <selector>]" : "jobs [<host> | where <selector>]";
    throw new CommandError("E_USAGE", `usage: ${usage}, e.g. ${verb} where group=web`);
  }
  return typed[1];
}

/** `plan deploy <source>`, `plan redeploy <host>`, `plan destroy <host>`. */
function planCommand(pipeline: string, word: string): TypedCommand {
  const verb = "plan";
  if (pipeline === "deploy") return { verb, pipeline, source: word };
  if (pipeline === "redeploy" || pipeline === "destroy") return { verb, pipeline, target: word };
  throw new CommandError(
    "E_USAGE",
    `'${pipeline.slice(0, 20)}' cannot be planned here; plan deploy <source>, plan redeploy <host> or plan destroy <host>`,
  );
}

/** `cn=loki` names its host; a file, URL or gist does not until it is loaded. */
export function hostOfSource(source: string): string | undefined {
  const m = /^cn=([^,\s]+)/i.exec(source);
  return m?.[1];
}

/**
 * A step number as people write it: counted from 1, or from 0 where the design as loaded is meant
 * (`clipboard loki 0` on the CLI).
 */
export function stepNumber(text: string, from: 0 | 1): number {
  if (!/^[0-9]{1,4}$/.test(text) || Number(text) < from) {
    throw new CommandError(
      "E_USAGE",
      `'${text.slice(0, 20)}' is not a step number; steps are counted from 1${from === 0 ? " (0: the design as loaded)" : ""} (see status)`,
    );
  }
  return Number(text);
}

/** The optional last word of redeploy/destroy/retry: `force` lets production:check through. */
function forced(word: string | undefined): boolean {
  if (word === undefined) return false;
  if (word === "force" || word === "--force") return true;
  throw new CommandError(
    "E_USAGE",
    `'${word.slice(0, 20)}' is not understood here; the only word allowed after the host is 'force'`,
  );
}
