/**
 * What the ssh steps read from their parameters and the design, shared by the real tasks (ssh.ts)
 * and their plans (ssh-plan.ts).
 */
import { StepFailure } from "../step-sdk/define-step.js";
import type { Clipboard } from "../step-sdk/define-step.js";

/** Root's key file on the host for ssh:keypair (`with.path`), as a shell word; a relative path is under $HOME. */
export function rootKeyFile(params: Record<string, unknown>): string {
  const path = typeof params.path === "string" ? params.path : ".ssh/id_ed25519";
  if (!/^[A-Za-z0-9._/-]+$/.test(path)) {
    throw new StepFailure(
      "E_STEP_PARAMS",
      `ssh:keypair: path '${path}' may hold only letters, digits, '.', '_', '-', '/'`,
    );
  }
  // The private key is made there and never read back.
  return path.startsWith("/") ? path : `"$HOME"/${path}`;
}

/** The command list for ssh:run: `with.commands`, or the clipboard list at `with.from`. */
export function commandsFrom(clipboard: Clipboard, params: Record<string, unknown>): string[] {
  if (params.commands !== undefined) return asCommands(params.commands, "with.commands");
  if (params.from === undefined) return [];
  if (typeof params.from !== "string" || params.from === "") {
    throw new StepFailure(
      "E_STEP_PARAMS",
      "ssh:run: with.from must be a dotted clipboard path such as commands.mounts",
    );
  }
  let node: unknown = clipboard;
  for (const part of params.from.split("."))
    node = isRecord(node) && Object.hasOwn(node, part) ? node[part] : undefined;
  return node === undefined ? [] : asCommands(node, `clipboard field ${params.from}`);
}

function asCommands(value: unknown, where: string): string[] {
  const list = typeof value === "string" ? [value] : value;
  if (!Array.isArray(list) || !list.every((c) => typeof c === "string" && c.trim() !== "")) {
    throw new StepFailure("E_STEP_PARAMS", `${where} must be a command or a list of commands (strings)`);
  }
  return list as string[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
