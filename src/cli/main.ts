#!/usr/bin/env node
/**
 * The `jarvis` command. Every subcommand opens the configuration and the store, does one thing
 * and exits with a code scripts can rely on (exit-codes.ts).
 */
import { parseArgs } from "node:util";
import { errorMessage } from "../errors.js";
import { loadConfig } from "../config.js";
import { createRedactor } from "../clipboard/redact.js";
import { redactorForConfig } from "../clipboard/config-redactor.js";
import { printable } from "../text/printable.js";
import { EXIT, exitCodeFor } from "./exit-codes.js";
import { GLOBAL_OPTIONS } from "./command.js";
import type { BaseContext, CliCommand } from "./command.js";
import type { JarvisConfig } from "../config.js";

/**
 * The command to run. `jarvis worker` loads its own module only: it forks every step it runs, and
 * a fork blocks the worker for a time that grows with the worker's memory (the kernel copies its
 * page tables), so the rest of jarvis (chat adapters, the API, the stores) is not loaded into it.
 */
async function commandNamed(name: string): Promise<CliCommand | undefined> {
  if (name === "worker") return (await import("./worker.js")).workerCommand;
  const { commands } = await import("./command-table.js");
  return Object.hasOwn(commands, name) ? commands[name] : undefined;
}

async function help(): Promise<string> {
  const { commands } = await import("./command-table.js");
  const width = Math.max(...Object.values(commands).map((c) => c.usage.length));
  return [
    "jarvis: chat-ops deployment bot",
    "",
    "usage: jarvis [--config FILE] [--server URL] <command> ...",
    "",
    ...Object.values(commands).map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`),
    "",
    "Configuration: ./jarvis.yml, or --config FILE, or JARVIS_CONFIG. See README.md.",
    "Remote: --server URL (or JARVIS_SERVER) with the API token in JARVIS_TOKEN, for the run commands.",
  ].join("\n");
}

/** Split `[globals...] <command> [args...]`: the globals before the command name, and the rest. */
function splitCommandLine(argv: string[]): { globals: string[]; name: string | undefined; rest: string[] } {
  const { tokens } = parseArgs({
    args: argv,
    options: GLOBAL_OPTIONS,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const first = tokens.find((t) => t.kind === "positional" || t.kind === "option-terminator");
  if (!first || first.kind !== "positional") return { globals: argv, name: undefined, rest: [] };
  return { globals: argv.slice(0, first.index), name: first.value, rest: argv.slice(first.index + 1) };
}

async function main(argv: string[]): Promise<number> {
  // Everything printed passes one escaping: designs, clipboards and step output may hold ESC, CR
  // or bidi controls that the operator's terminal would act on instead of showing.
  const out = (text: string): void => void process.stdout.write(`${printable(text)}\n`);
  const err = (text: string): void => void process.stderr.write(`${printable(text)}\n`);
  const { globals, name, rest } = splitCommandLine(argv);
  let global;
  try {
    global = parseArgs({ args: globals, options: GLOBAL_OPTIONS, strict: true, allowPositionals: false });
  } catch (e) {
    err(`jarvis: ${errorMessage(e)}\n\n${await help()}`);
    return EXIT.usage;
  }
  if (!name || global.values.help || name === "help") {
    (name || global.values.help ? out : err)(await help());
    return name || global.values.help ? EXIT.ok : EXIT.usage;
  }
  const command = await commandNamed(name);
  if (!command) {
    err(`jarvis: unknown command '${name}'\n\n${await help()}`);
    return EXIT.usage;
  }
  let config: JarvisConfig | undefined;
  const base: BaseContext = {
    loadConfig: (path) => (config = loadConfig(path ?? global.values.config)),
    out,
    err,
    env: process.env,
    server: global.values.server,
  };
  try {
    return await command.run([name, ...rest], base);
  } catch (e) {
    const code = exitCodeFor(e);
    // An error may quote what it was given (a design URL with credentials): it leaves redacted.
    const redactor = config ? redactorForConfig(config) : createRedactor({ keys: [] });
    err(
      `jarvis ${name}: ${redactor.text(errorMessage(e))}${code === EXIT.usage ? `\nusage: jarvis ${command.usage}` : ""}`,
    );
    if (code === EXIT.internal && process.env.JARVIS_DEBUG) err(redactor.text(String((e as Error).stack)));
    return code;
  }
}

process.exitCode = await main(process.argv.slice(2));
