/** Every `jarvis` subcommand by name: what `jarvis help` lists and main.ts runs. */
import { runCommands } from "./run-commands.js";
import { approvalCommands } from "./approval-commands.js";
import { inspectCommands } from "./inspect-commands.js";
import { scheduleCommands } from "./schedule-commands.js";
import { toolCommands } from "./tool-commands.js";
import { startCommand } from "./start.js";
import { workerCommand } from "./worker.js";
import { agentCommand } from "./agent-command.js";
import { storeCommand } from "./store-command.js";
import { jobCommands } from "./job-commands.js";
import type { CliCommand } from "./command.js";

export const commands: Record<string, CliCommand> = {
  ...runCommands,
  ...approvalCommands,
  ...inspectCommands,
  ...scheduleCommands,
  ...toolCommands,
  ...jobCommands,
  start: startCommand,
  worker: workerCommand,
  agent: agentCommand,
  store: storeCommand,
};
