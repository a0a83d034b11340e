/** The shape of a `jarvis` subcommand. */
import { JarvisError } from "../errors.js";
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
