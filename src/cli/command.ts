/** The shape of a `jarvis` subcommand. */
import { JarvisError } from "../errors.js";
import { openJarvis } from "../service.js";
import type { Jarvis } from "../service.js";
import type { JarvisConfig } from "../config.js";

/** Parsed flags (each command uses the ones it documents). */
export interface Flags {
  json: boolean;
  detach: boolean;
  force: boolean;
  step: string | undefined;
  clipboard: string | undefined;
  with: string | undefined;
  output: string | undefined;
  limit: string | undefined;
  config: string | undefined;
}

/** What a subcommand gets. */
export interface CommandContext {
  args: string[];
  flags: Flags;
  /** The configuration, loaded on first use (so `help` works without one). */
  config: () => JarvisConfig;
  out: (text: string) => void;
  err: (text: string) => void;
}

/** A subcommand: its usage line and what it does; resolves to the exit code. */
export interface Command {
  usage: string;
  summary: string;
  run(ctx: CommandContext): Promise<number>;
}

/** Thrown for a wrong command line; exits 2 with the usage. */
export function usageError(message: string): JarvisError {
  return new JarvisError("E_USAGE", message);
}

/** Open jarvis for one command and close it afterwards, whatever happens. */
export async function withJarvis<T>(ctx: CommandContext, fn: (jarvis: Jarvis) => Promise<T>): Promise<T> {
  const jarvis = await openJarvis(ctx.config());
  try {
    return await fn(jarvis);
  } finally {
    await jarvis.close();
  }
}

/** The one host or run id a command takes. */
export function oneTarget(ctx: CommandContext, what: string): string {
  const [target] = ctx.args;
  if (!target || ctx.args.length > 1) throw usageError(`${what} takes one host or run id`);
  return target;
}
