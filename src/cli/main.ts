#!/usr/bin/env node
/**
 * The `jarvis` command. Every subcommand opens the configuration and the store, does one thing
 * and exits with a code scripts can rely on (exit-codes.ts).
 */
import { parseArgs } from "node:util";
import { errorMessage } from "../errors.js";
import { loadConfig } from "../config.js";
import { printable } from "../text/printable.js";
import { EXIT, exitCodeFor } from "./exit-codes.js";
import { runCommands } from "./run-commands.js";
import { inspectCommands } from "./inspect-commands.js";
import { toolCommands } from "./tool-commands.js";
import { startCommand } from "./start.js";
import type { JarvisConfig } from "../config.js";
import type { Command, CommandContext } from "./command.js";

const commands: Record<string, Command> = {
  ...runCommands,
  ...inspectCommands,
  ...toolCommands,
  start: startCommand,
};

function help(): string {
  const width = Math.max(...Object.values(commands).map((c) => c.usage.length));
  return [
    "jarvis: chat-ops deployment bot",
    "",
    "usage: jarvis [--config FILE] <command> ...",
    "",
    ...Object.values(commands).map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`),
    "",
    "Configuration: ./jarvis.yml, or --config FILE, or JARVIS_CONFIG. See README.md.",
  ].join("\n");
}

async function main(argv: string[]): Promise<number> {
  // Everything printed passes one escaping: designs, clipboards and step output may hold ESC, CR
  // or bidi controls that the operator's terminal would act on instead of showing.
  const out = (text: string): void => void process.stdout.write(`${printable(text)}\n`);
  const err = (text: string): void => void process.stderr.write(`${printable(text)}\n`);
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: "string", short: "c" },
        json: { type: "boolean", default: false },
        detach: { type: "boolean", short: "d", default: false },
        force: { type: "boolean", default: false },
        step: { type: "string" },
        clipboard: { type: "string" },
        with: { type: "string" },
        output: { type: "string", short: "o" },
        limit: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (e) {
    err(`jarvis: ${errorMessage(e)}\n\n${help()}`);
    return EXIT.usage;
  }
  const [name, ...args] = parsed.positionals;
  if (!name || parsed.values.help || name === "help") {
    (name || parsed.values.help ? out : err)(help());
    return name || parsed.values.help ? EXIT.ok : EXIT.usage;
  }
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!command) {
    err(`jarvis: unknown command '${name}'\n\n${help()}`);
    return EXIT.usage;
  }
  let config: JarvisConfig | undefined;
  const v = parsed.values;
  const ctx: CommandContext = {
    args,
    flags: {
      json: v.json ?? false,
      detach: v.detach ?? false,
      force: v.force ?? false,
      step: v.step,
      clipboard: v.clipboard,
      with: v.with,
      output: v.output,
      limit: v.limit,
      config: v.config,
    },
    config: () => (config ??= loadConfig(v.config)),
    out,
    err,
  };
  try {
    return await command.run(ctx);
  } catch (e) {
    const code = exitCodeFor(e);
    err(`jarvis ${name}: ${errorMessage(e)}${code === EXIT.usage ? `\nusage: jarvis ${command.usage}` : ""}`);
    if (code === EXIT.internal && process.env.JARVIS_DEBUG) err(String((e as Error).stack));
    return code;
  }
}

process.exitCode = await main(process.argv.slice(2));
