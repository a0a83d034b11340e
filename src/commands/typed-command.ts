/**
 * Commands as every front hands them to the dispatcher: one variant per verb, its arguments
 * typed. Targets stay the words people gave (`target`): the dispatcher resolves them against the
 * store before the ACL looks at them, so a word is never read by its shape.
 */
import { CommandError } from "../errors.js";
import type { Verb } from "./command-parser.js";

/** A command with typed arguments. */
export type TypedCommand =
  | { verb: "deploy"; source: string }
  | {
      verb: "run";
      pipeline: string;
      source: string;
      force: boolean;
      foreground: boolean;
      /** A plan run (`jarvis run ... --plan`, the API's `{plan: true}`). */
      plan?: boolean;
    }
  /** A plan run of deploy (of a design) or of redeploy/destroy (of a host): chat `plan deploy cn=loki`. */
  | { verb: "plan"; pipeline: "deploy"; source: string }
  | { verb: "plan"; pipeline: "redeploy" | "destroy"; target: string }
  | { verb: "redeploy" | "destroy"; target: string; force: boolean }
  | { verb: "retry"; target: string; force: boolean; foreground: boolean; clipboardYaml?: string }
  | { verb: "resume"; target: string }
  | { verb: "cancel"; target: string }
  | { verb: "status"; target?: string }
  | { verb: "log"; target: string }
  | { verb: "clipboard"; target: string; step?: number }
  | { verb: "diff"; target: string; step: number }
  | { verb: "history"; host: string; limit: number }
  | { verb: "pipelines" }
  | { verb: "audit"; limit: number }
  | { verb: "help"; topic?: string }
  | { verb: "whoami" };

/** Every verb the dispatcher executes (chat knows a subset: command-parser.ts COMMANDS). */
export type CommandVerb = TypedCommand["verb"];

/** How many runs `history` lists in chat, where lines are dear. */
export const CHAT_HISTORY_LIMIT = 10;

/** Type a chat command's words (their count was checked by the parser). */
export function typeChatCommand(verb: Verb, args: readonly string[]): TypedCommand {
  const [a = "", b] = args;
  switch (verb) {
    case "deploy":
      return { verb, source: a };
    case "run":
      return { verb, pipeline: a, source: b ?? "", force: false, foreground: false };
    case "redeploy":
    case "destroy":
      return { verb, target: a, force: forced(b) };
    case "retry":
      return { verb, target: a, force: forced(b), foreground: false };
    case "cancel":
    case "log":
      return { verb, target: a };
    case "status":
      return args.length === 0 ? { verb } : { verb, target: a };
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
    case "help":
      return args.length === 0 ? { verb } : { verb, topic: a };
  }
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
