/**
 * The CLI's commands run in this process, with main.ts's error handling (exit code from the
 * error, message through printable): one spawned CLI costs seconds on a busy machine, and the
 * probe matrix has dozens of cases. A few cases per test still go through the real binary.
 */
import { errorMessage } from "../../../src/errors.js";
import { exitCodeFor } from "../../../src/cli/exit-codes.js";
import { runCommands } from "../../../src/cli/run-commands.js";
import { toolCommands } from "../../../src/cli/tool-commands.js";
import { printable } from "../../../src/text/printable.js";
import type { CliCommand } from "../../../src/cli/command.js";
import type { JarvisEnv } from "../../helpers/jarvis-env.js";

const commands: Record<string, CliCommand> = { ...runCommands, ...toolCommands };

/** What one command printed and its exit code. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `jarvis <name> <args>` in this process on the env's configuration. */
export async function cliInProcess(env: JarvisEnv, name: string, args: string[]): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const command = commands[name]!;
  const argv = [name, ...args];
  const base = {
    loadConfig: () => env.config(),
    out: (text: string) => void (stdout += `${printable(text)}\n`),
    err: (text: string) => void (stderr += `${printable(text)}\n`),
  };
  try {
    return { code: await command.run(argv, base), stdout, stderr };
  } catch (e) {
    return {
      code: exitCodeFor(e),
      stdout,
      stderr: `${stderr}jarvis ${name}: ${printable(errorMessage(e))}\n`,
    };
  }
}
