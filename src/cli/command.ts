/**
 * The shape of a `jarvis` subcommand. Each command declares its own options (node's parseArgs,
 * strict), so an option another command takes is a usage error here (exit 2, with this command's
 * usage line) instead of being silently accepted. Commands that act on runs go through the
 * dispatcher (src/commands/) as the local operator, audited as `cli:<user>`. The service and the
 * dispatcher are imported when a command first needs them, not with this module: `jarvis worker`
 * must stay small (see main.ts).
 */
import { parseArgs } from "node:util";
import type { ParseArgsConfig } from "node:util";
import { userInfo } from "node:os";
import { CommandError, errorMessage } from "../errors.js";
import { redactorForConfig } from "../clipboard/config-redactor.js";
import type { Caller } from "../commands/dispatcher.js";
import type { Reply } from "../commands/reply.js";
import type { Requester } from "../pipeline/run-control.js";
import type { TypedCommand } from "../commands/typed-command.js";
import type { Jarvis } from "../service.js";
import type { JarvisConfig } from "../config.js";

type OptionsConfig = NonNullable<ParseArgsConfig["options"]>;

/** Options every command takes, wherever they stand on the command line. */
export const GLOBAL_OPTIONS = {
  config: { type: "string", short: "c" },
  /** A jarvis server's API to act through instead of the local store (commands that say so). */
  server: { type: "string" },
  help: { type: "boolean", short: "h", default: false },
} as const;

/** The typed values parseArgs gives for a command's options (and the global ones). */
export type OptionValues<O extends OptionsConfig> = ReturnType<
  typeof parseArgs<{
    args: string[];
    options: O & typeof GLOBAL_OPTIONS;
    strict: true;
    allowPositionals: true;
  }>
>["values"];

/** What main.ts gives every command. */
export interface BaseContext {
  /** Load the configuration from `path` (the command's --config), else the one main.ts found. */
  loadConfig: (path: string | undefined) => JarvisConfig;
  out: (text: string) => void;
  err: (text: string) => void;
  /** The environment for JARVIS_SERVER and JARVIS_TOKEN (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** --server as given before the command name. */
  server?: string | undefined;
}

/** What a subcommand gets. */
export interface CommandContext<V> {
  /** The configuration, loaded on first use (so `--help` works without one). */
  config: () => JarvisConfig;
  out: (text: string) => void;
  err: (text: string) => void;
  args: string[];
  flags: V;
  /** The command line as typed after `jarvis` (for the audit trail). */
  commandLine: string;
  /** The jarvis server to act through (--server, else JARVIS_SERVER), for commands that can. */
  server: string | undefined;
  /** The environment (JARVIS_TOKEN). */
  env: NodeJS.ProcessEnv;
}

/** A subcommand, its option types erased: what main.ts runs. */
export interface CliCommand {
  usage: string;
  summary: string;
  /** Parse `argv` (everything after `jarvis`, the command name included) and run; the exit code. */
  run(argv: string[], base: BaseContext): Promise<number>;
}

/** A subcommand's definition. */
export interface CommandDefinition<O extends OptionsConfig> {
  usage: string;
  summary: string;
  options: O;
  /** It can act through a jarvis server's API (with-backend.ts); the others refuse --server. */
  remote?: boolean;
  run(ctx: CommandContext<OptionValues<O>>): Promise<number>;
}

/** Declare a subcommand with its own options. */
export function defineCommand<const O extends OptionsConfig>(def: CommandDefinition<O>): CliCommand {
  return {
    usage: def.usage,
    summary: def.summary,
    run: async (argv, base) => {
      const rest = argv.slice(1);
      let parsed;
      try {
        parsed = parseArgs({
          args: rest,
          options: { ...def.options, ...GLOBAL_OPTIONS },
          strict: true,
          allowPositionals: true,
        });
      } catch (err) {
        throw usageError(errorMessage(err));
      }
      // The merged option set is generic here, so its values type is opaque; the global options
      // are read through the shape they always have.
      const globals: { help?: boolean; config?: string; server?: string } = parsed.values;
      if (globals.help) {
        base.out(`usage: jarvis ${def.usage}\n  ${def.summary}`);
        return 0;
      }
      const flag = globals.server ?? base.server;
      if (flag !== undefined && !def.remote)
        throw usageError(`${argv[0] ?? "this command"} acts on this machine only; it does not take --server`);
      let config: JarvisConfig | undefined;
      const path = globals.config;
      // JARVIS_SERVER is for the commands that can go remote; the others keep acting here.
      const server = def.remote ? (flag ?? (base.env ?? process.env).JARVIS_SERVER) : undefined;
      return def.run({
        config: () => (config ??= base.loadConfig(path)),
        out: base.out,
        err: base.err,
        args: parsed.positionals,
        // parseArgs's result type is computed from the merged options, which TypeScript cannot
        // relate back to O inside this generic function; the values are exactly OptionValues<O>.
        flags: parsed.values as OptionValues<O>,
        commandLine: argv.join(" "),
        server: server === "" ? undefined : server,
        env: base.env ?? process.env,
      });
    },
  };
}

/** Thrown for a wrong command line; exits 2 with the usage. */
export function usageError(message: string): CommandError {
  return new CommandError("E_USAGE", message);
}

/** A `--limit`-like option: a positive integer, or the default when absent. */
export function positiveInteger(raw: string | undefined, option: string, fallback: number): number {
  if (raw === undefined) return fallback;
  if (!/^[1-9][0-9]{0,8}$/.test(raw))
    throw usageError(`${option} must be a positive integer, got '${raw.slice(0, 20)}'`);
  return Number(raw);
}

/** Open jarvis for one command and close it afterwards, whatever happens. */
export async function withJarvis<T>(
  ctx: CommandContext<unknown>,
  fn: (jarvis: Jarvis) => Promise<T>,
): Promise<T> {
  const { openJarvis } = await import("../service.js");
  const jarvis = await openJarvis(ctx.config());
  try {
    return await fn(jarvis);
  } finally {
    await jarvis.close();
  }
}

/** The one host or run id a command takes. */
export function oneTarget(ctx: CommandContext<unknown>, what: string): string {
  const [target] = ctx.args;
  if (!target || ctx.args.length > 1) throw usageError(`${what} takes one host or run id`);
  return target;
}

/** The machine's operator running the CLI, as `requested_by` and the audit trail show it. */
export function cliRequester(): Requester {
  return { identity: `cli:${userInfo().username}`, origin: "cli" };
}

/** The machine's operator running the CLI, for the dispatcher. */
export function cliCaller(): Caller {
  const { identity } = cliRequester();
  return {
    identity,
    label: identity,
    network: "cli",
    room: "local",
    origin: "cli",
    configuredRoom: false,
    localOperator: true,
  };
}

/** A reply that is not a refusal or failure. */
export type Answer = Exclude<Reply, { kind: "refused" } | { kind: "failed" }>;

/**
 * Hand a typed command to the dispatcher as the local operator; refusals and failures are thrown
 * again, so the exit code follows the error's code (exit-codes.ts).
 */
export async function dispatch<K extends Answer["kind"]>(
  jarvis: Jarvis,
  ctx: CommandContext<unknown>,
  command: TypedCommand,
  expected: K,
): Promise<Extract<Answer, { kind: K }>> {
  const { Dispatcher } = await import("../commands/dispatcher.js");
  const dispatcher = new Dispatcher({
    control: jarvis.control,
    // The local operator passes the ACL anyway; it is here for approvals, which count people.
    acl: jarvis.config.chat.acl,
    log: ctx.err,
    redactor: redactorForConfig(jarvis.config),
    nodes: jarvis.nodes,
    ...(jarvis.jobs ? { jobs: jarvis.jobs } : {}),
    schedules: jarvis.store,
    nodeEvents: jarvis.store,
  });
  const reply = await dispatcher.dispatch({
    front: "cli",
    caller: cliCaller(),
    input: { command, text: ctx.commandLine },
  });
  if (reply.kind === "failed") throw reply.error;
  if (reply.kind === "refused") throw usageError(reply.message);
  if (!isKind(reply, expected)) throw new Error(`${command.verb} answered ${reply.kind}, not ${expected}`);
  return reply;
}

function isKind<K extends Answer["kind"]>(reply: Answer, kind: K): reply is Extract<Answer, { kind: K }> {
  return reply.kind === kind;
}
