/**
 * The host side of agent:install, over the SSH steps' connection: which of the agent's files the
 * host has already (by SHA-256, so a reinstall sends only what changed), sending files through
 * the command's stdin (a key never appears on a command line), and the layout's stop and start.
 */
import { createHash } from "node:crypto";
import { StepFailure } from "../step-sdk/define-step.js";
import { outputTail, runRemote, sshClientFailure, SSH_CLIENT_ERROR } from "./ssh-client.js";
import type { SshTarget } from "./ssh-client.js";
import type { AgentLayout } from "./agent-layout.js";
import { shellQuote } from "./agent-layout.js";

export interface AgentFile {
  name: string;
  content: string | Uint8Array;
  mode: 0o600 | 0o644;
}

export interface HostState {
  /** File name -> SHA-256 of what the host has. */
  hashes: Map<string, string>;
  /** `node -v` on the host, if it answered. */
  nodeVersion: string | undefined;
}

export function sha256(content: string | Uint8Array): string {
  return createHash("sha256").update(content).digest("hex");
}

export async function hostState(
  target: SshTarget,
  layout: AgentLayout,
  names: string[],
  signal: AbortSignal,
): Promise<HostState> {
  const command = [
    `cd ${layout.dirWord} 2>/dev/null && sha256sum ${names.map(shellQuote).join(" ")} 2>/dev/null`,
    `echo "node-version $(${shellQuote(layout.nodeBinary)} -v 2>/dev/null)"`,
  ].join("; ");
  const result = await ssh(target, command, signal);
  const hashes = new Map<string, string>();
  let nodeVersion: string | undefined;
  for (const line of result.lastLines) {
    const sum = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (sum) hashes.set(sum[2]!, sum[1]!);
    const version = /^node-version (v\d+\S*)$/.exec(line);
    if (version) nodeVersion = version[1];
  }
  return { hashes, nodeVersion };
}

/** Write one file into the agent's directory, swapped in whole. */
export async function sendFile(
  target: SshTarget,
  layout: AgentLayout,
  file: AgentFile,
  signal: AbortSignal,
): Promise<void> {
  const name = shellQuote(file.name);
  const command = [
    "umask 077",
    `mkdir -p ${layout.dirWord}`,
    `cd ${layout.dirWord}`,
    `cat > ${name}.tmp`,
    `chmod ${file.mode.toString(8)} ${name}.tmp`,
    `mv -f ${name}.tmp ${name}`,
  ].join(" && ");
  const result = await ssh(target, command, signal, file.content);
  if (result.code !== 0) {
    throw new StepFailure(
      "E_AGENT_INSTALL",
      `agent: writing ${layout.dirShown}/${file.name} on the host failed (exit ${result.code}): ${outputTail(result.lastLines)}`,
    );
  }
}

/** Run one of the layout's service commands; fails the step with the command's last lines. */
export async function serviceCommand(
  target: SshTarget,
  layout: AgentLayout,
  what: "stop" | "start",
  signal: AbortSignal,
): Promise<void> {
  const result = await ssh(target, layout[what], signal);
  if (result.code !== 0) {
    throw new StepFailure(
      "E_AGENT_INSTALL",
      `agent: ${what === "stop" ? "stopping (and enabling)" : "starting"} the agent on the host failed (exit ${result.code}): ${outputTail(result.lastLines)}`,
    );
  }
}

/** The agent's last log lines, for the error when it never came online. */
export async function agentLogTail(
  target: SshTarget,
  layout: AgentLayout,
  signal: AbortSignal,
): Promise<string> {
  const result = await runRemote(target, layout.logTail, { signal, keep: 5 });
  return result.code === 0 ? result.lastLines.join(" | ") : "";
}

async function ssh(target: SshTarget, command: string, signal: AbortSignal, input?: string | Uint8Array) {
  const result = await runRemote(target, command, {
    signal,
    keep: 40,
    ...(input === undefined ? {} : { input }),
  });
  if (result.code === SSH_CLIENT_ERROR) throw sshClientFailure(target, result.lastLines);
  return result;
}
