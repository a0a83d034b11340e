/**
 * Chat text to a command. The text is only ever split into words here and handed to RunControl as
 * plain strings: chat input never reaches a shell. Anything odd (control characters, over-long
 * lines, unbalanced quotes, wrong argument counts) gets a clear one-line error instead of a guess.
 */

/** Words a `hosts where ...` selector may span. */
const MAX_SELECTOR_WORDS = 256;

/** Every command the bot knows, with its argument shape and whether it changes anything. */
export const COMMANDS = {
  deploy: {
    args: "<source> [after plan]",
    min: 1,
    max: 3,
    mutating: true,
    help: "deploy a new host from a design (file, https URL, gist:ID, cn=host); after plan: plan it, apply once approved",
  },
  redeploy: {
    args: "<host> [force] [after plan]",
    min: 1,
    max: 4,
    mutating: true,
    help: "rebuild a host from its design (force: even one that serves production; after plan: plan it, apply once approved)",
  },
  destroy: {
    args: "<host> [force] [after plan]",
    min: 1,
    max: 4,
    mutating: true,
    help: "delete a host (force: even one that serves production; after plan: plan it, apply once approved)",
  },
  plan: {
    args: "<deploy|redeploy|destroy> <source|host>",
    min: 2,
    max: 2,
    // It changes nothing outside, but it is a run: it holds the host while it looks.
    mutating: true,
    help: "what deploy, redeploy or destroy would change, without changing it",
  },
  run: {
    args: '<pipeline> <source> | "<command>" on <nodes>',
    min: 2,
    max: 3 + MAX_SELECTOR_WORDS,
    mutating: true,
    help: 'run any pipeline on a design; run "<command>" on <nodes: web-* | group=web | any selector> runs it on agents (checked as execute)',
  },
  retry: {
    args: "<host> [force]",
    min: 1,
    max: 2,
    mutating: true,
    help: "retry a failed run from its failed step",
  },
  replay: {
    args: "<run|host> on <host> [<host> ...]",
    min: 3,
    max: 2 + 20,
    mutating: true,
    help: "run a past run's pipeline again, same parameters and force, on other hosts' designs",
  },
  cancel: { args: "<host>", min: 1, max: 1, mutating: true, help: "cancel a queued or running run" },
  status: {
    args: "[host]",
    min: 0,
    max: 1,
    mutating: false,
    help: "where the work on a host (or every host) stands",
  },
  log: { args: "<host>", min: 1, max: 1, mutating: false, help: "the last lines of the latest run's log" },
  clipboard: {
    args: "<host> [step]",
    min: 1,
    max: 2,
    mutating: false,
    help: "the clipboard after a step (default: latest)",
  },
  diff: {
    args: "<host> <step>",
    min: 2,
    max: 2,
    mutating: false,
    help: "what a step changed on the clipboard",
  },
  history: { args: "<host>", min: 1, max: 1, mutating: false, help: "the runs of a host, newest first" },
  pipelines: { args: "", min: 0, max: 0, mutating: false, help: "the pipelines jarvis knows" },
  delete: {
    args: "<run>",
    min: 1,
    max: 1,
    mutating: true,
    help: "delete a finished run with its clipboards (the HTTP API's DELETE /runs/{id})",
  },
  audit: { args: "", min: 0, max: 0, mutating: false, help: "how many commands the audit trail holds" },
  help: { args: "[command]", min: 0, max: 1, mutating: false, help: "this list, or one command's usage" },
  whoami: { args: "", min: 0, max: 0, mutating: false, help: "the identity and roles jarvis sees for you" },
  hosts: {
    args: "[where <selector>]",
    min: 0,
    // A selector is many words (`os.family=debian and packages.apache2<2.4.50`); the line's byte
    // limit bounds it.
    max: MAX_SELECTOR_WORDS,
    mutating: false,
    help: "the nodes jarvis knows (online, last seen, agent), or those a selector picks: hosts where group=web",
  },
  approve: {
    args: "<run>",
    min: 1,
    max: 1,
    mutating: true,
    help: "approve a run that awaits approval (your role must be the one it asks for)",
  },
  deny: {
    args: "<run> [why]",
    min: 1,
    max: 40,
    mutating: true,
    help: "deny a run that awaits approval; it is cancelled",
  },
  schedule: {
    args: '<pipeline> <source|host> at <time> | cron "<pattern>" [in <timezone>] [misfire skip|once] [force]',
    min: 4,
    max: 9,
    mutating: true,
    help: 'run a pipeline later (at 2026-12-24T02:00Z) or again and again (cron "0 3 * * 0")',
  },
  schedules: {
    args: "",
    min: 0,
    max: 0,
    mutating: false,
    help: "the schedules, their next time and what came of their recent occurrences",
  },
  unschedule: { args: "<id>", min: 1, max: 1, mutating: true, help: "delete a schedule" },
  follow: {
    args: "<host|run>",
    min: 1,
    max: 1,
    mutating: false,
    help: "show this room the running step's output, throttled, until the run ends",
  },
  unfollow: {
    args: "[host|run]",
    min: 0,
    max: 1,
    mutating: false,
    help: "stop showing step output here (one host or run, or everything)",
  },
  ping: {
    args: "<nodes: web-* | group=web | any selector>",
    min: 1,
    max: 1 + MAX_SELECTOR_WORDS,
    mutating: true,
    help: "ask the nodes' agents to answer (a job: each node ACKs, then replies)",
  },
  execute: {
    args: '"<command>" on <nodes: web-* | group=web | any selector> [--batch N|N%]',
    min: 3,
    max: 5 + MAX_SELECTOR_WORDS,
    mutating: true,
    help: 'run a command on the nodes\' agents (same as run "<command>" on ...)',
  },
  service: {
    args: "<name> started|stopped|restarted on <nodes: web-* | group=web | any selector> [--batch N|N%]",
    min: 4,
    max: 6 + MAX_SELECTOR_WORDS,
    mutating: true,
    help: "bring a service to a state on the nodes' agents",
  },
  events: {
    args: "[host]",
    min: 0,
    max: 1,
    mutating: false,
    help: "the latest events the agents reported (changed files, probes), of one host or of all",
  },
  jobs: {
    args: "[<host> | where <selector>]",
    min: 0,
    max: MAX_SELECTOR_WORDS,
    mutating: false,
    help: "the latest jobs, of one host, or of the nodes a selector picks now: jobs where group=web",
  },
  job: {
    args: "<jid> | cancel <jid> | rerun <jid> [failed|unreachable|expired|all]",
    min: 1,
    max: 3,
    mutating: false,
    help: "a job's per-node states; cancel and rerun are checked as the job's operation on its hosts",
  },
} as const;

/** A command verb. */
export type Verb = keyof typeof COMMANDS;

/** A parsed command. */
export interface Command {
  verb: Verb;
  args: string[];
  /** The command text as written (after the address), for the audit log. */
  text: string;
}

/** What came of a line of chat. */
export type ParseResult =
  | { kind: "ignored" }
  | { kind: "command"; command: Command }
  | { kind: "error"; message: string; text: string };

/** Longest command accepted, in UTF-8 bytes; a design source or host name is never longer. */
export const MAX_COMMAND_BYTES = 1024;

/** The one-line help unknown commands get. */
export const SHORT_HELP = `commands: ${Object.keys(COMMANDS).join(", ")} (say "help <command>" for one)`;

/** True for verbs that change something, which the ACL denies unless allowed. */
export function isMutating(verb: Verb): boolean {
  return COMMANDS[verb].mutating;
}

/** "deploy <source>": a command's usage line. */
export function usage(verb: Verb): string {
  const spec = COMMANDS[verb];
  return `${verb}${spec.args ? ` ${spec.args}` : ""}: ${spec.help}`;
}

/**
 * Parse one line of chat. In a room the line must be addressed to the bot ("jarvis: status",
 * "jarvis, status", "@jarvis status"); in a direct message the address is optional.
 */
export function parseChatLine(line: string, botName: string, direct: boolean): ParseResult {
  const text = stripFormatting(line).trim();
  const body = stripAddress(text, botName);
  if (body === undefined && !direct) return { kind: "ignored" };
  return parseCommand(body ?? text);
}

/** Parse a command without address ("status loki"). */
export function parseCommand(input: string): ParseResult {
  const text = input.trim();
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_COMMAND_BYTES) {
    return {
      kind: "error",
      text: text.slice(0, 80),
      message: `command too long (${bytes} bytes, limit ${MAX_COMMAND_BYTES}); put long designs in a file or URL and deploy that`,
    };
  }

  const control = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u.exec(
    text,
  );
  if (control) {
    const code = control[0].codePointAt(0)!.toString(16).padStart(4, "0");
    return {
      kind: "error",
      text,
      message: `command contains control character U+${code} at position ${control.index + 1}; type it again as plain text`,
    };
  }
  if (text === "") return { kind: "error", text, message: SHORT_HELP };
  const words = splitWords(text);
  if (typeof words === "string") return { kind: "error", text, message: words };
  const [first = "", ...args] = words;
  const verb = first.toLowerCase();
  if (!Object.hasOwn(COMMANDS, verb)) {
    return { kind: "error", text, message: `unknown command '${visible(first)}'; ${SHORT_HELP}` };
  }
  const typed = verb as Verb;
  const spec = COMMANDS[typed];
  if (args.length < spec.min || args.length > spec.max) {
    return { kind: "error", text, message: `usage: ${usage(typed)}` };
  }
  if (args.some((a) => a === ""))
    return { kind: "error", text, message: `empty argument; usage: ${usage(typed)}` };
  return { kind: "command", command: { verb: typed, args, text } };
}

/** Split on whitespace, honouring "double" and 'single' quotes and backslash escapes. */
export function splitWords(text: string): string[] | string {
  const spans = splitWordSpans(text);
  return typeof spans === "string" ? spans : spans.map((span) => span.word);
}

/** A word and where it stands in the text (UTF-16 offsets, `end` exclusive), quotes included. */
export interface WordSpan {
  word: string;
  start: number;
  end: number;
}

/**
 * splitWords with each word's place, for a command whose tail is a language of its own (a job's
 * selector): the tail is taken from the text as typed, its quotes intact.
 */
export function splitWordSpans(text: string): WordSpan[] | string {
  const words: WordSpan[] = [];
  let current = "";
  let inWord = false;
  let start = 0;
  let quote: '"' | "'" | undefined;
  const chars = [...text];
  let at = 0;
  const begin = (): void => {
    if (!inWord) start = at;
    inWord = true;
  };
  for (let i = 0; i < chars.length; at += chars[i]!.length, i++) {
    const ch = chars[i]!;
    if (quote) {
      if (ch === quote) quote = undefined;
      else if (ch === "\\" && quote === '"' && i + 1 < chars.length) {
        at += ch.length;
        current += chars[++i]!;
      } else current += ch;
    } else if (ch === '"' || ch === "'") {
      begin();
      quote = ch;
    } else if (ch === "\\" && i + 1 < chars.length) {
      begin();
      at += ch.length;
      current += chars[++i]!;
    } else if (/\s/u.test(ch)) {
      if (inWord) words.push({ word: current, start, end: at });
      current = "";
      inWord = false;
    } else {
      begin();
      current += ch;
    }
  }
  if (quote) return `unbalanced ${quote === '"' ? "double" : "single"} quote; close it or remove it`;
  if (inWord) words.push({ word: current, start, end: at });
  return words;
}

/** The command after "jarvis:", "jarvis," or "@jarvis"; undefined when not addressed to the bot. */
function stripAddress(text: string, botName: string): string | undefined {
  const lower = text.toLowerCase();
  const name = botName.toLowerCase();
  for (const prefix of [name, `@${name}`]) {
    if (!lower.startsWith(prefix)) continue;
    const rest = text.slice(prefix.length);
    const m = /^\s*[:,]\s*|^\s+(?=\S)/u.exec(rest);
    if (m && (prefix.startsWith("@") || /[:,]/.test(m[0]))) return rest.slice(m[0].length);
  }
  return undefined;
}

/** Remove IRC formatting codes (bold, colour, reset, italics, underline, reverse). */
function stripFormatting(text: string): string {
  return text.replace(/\u0003(\d{1,2}(,\d{1,2})?)?|[\u0002\u000f\u0011\u001d\u001e\u001f\u0016]/g, "");
}

/** A word as safe to echo back: control characters shown as code points, and at most 40 characters. */
function visible(word: string): string {
  const shown = [...word].slice(0, 40).join("");
  return shown.length < word.length ? `${shown}…` : shown;
}
