/**
 * agent:install without jarvis's agent (no `modules.agent.with.nats`): installs a
 * configuration-management agent over SSH with the command the design (`agent.install`) or
 * jarvis.yml (`modules.agent.with.command`) names, idempotently: when the `check` command (design
 * `agent.check`, or `with.check`) succeeds on the host, the agent is there already and nothing is
 * run. No command: nothing to install.
 */
import { StepFailure } from "../step-sdk/define-step.js";
import type { Clipboard, StepContext } from "../step-sdk/define-step.js";
import { outputTail, runRemote, sshClientFailure, sshTarget, SSH_CLIENT_ERROR } from "./ssh-client.js";
import { hostNotYetThere } from "./ssh-plan.js";
import { withPlanEntries } from "../step-sdk/plan.js";

/** Install the agent unless its check says it is installed; records `agent: {installed, ...}`. */
export async function installByCommand(clipboard: Clipboard, ctx: StepContext): Promise<Clipboard | void> {
  const design =
    clipboard.agent && typeof clipboard.agent === "object"
      ? (clipboard.agent as Record<string, unknown>)
      : {};
  const command = pick(design.install, ctx.params.command, "install");
  const check = pick(design.check, ctx.params.check, "check");
  if (command === undefined) {
    ctx.log(
      "agent: no install command (agent.install in the design or modules.agent.with.command in jarvis.yml), nor jarvis's agent (modules.agent.with.nats); nothing to install",
    );
    return;
  }
  const target = sshTarget(clipboard, ctx.params);
  if (check !== undefined) {
    const probe = await runRemote(target, check, { signal: ctx.signal });
    if (probe.code === SSH_CLIENT_ERROR) throw sshClientFailure(target, probe.lastLines);
    if (probe.code === 0) {
      ctx.log(`agent: '${check}' succeeds on the host; the agent is installed already`);
      return { ...clipboard, agent: { ...design, installed: true, changed: false } };
    }
  }
  ctx.log(`agent: $ ${command}`);
  const result = await runRemote(target, command, {
    signal: ctx.signal,
    onLine: (l) => ctx.log(`  ${l}`),
    keep: 10,
  });
  if (
    result.code === SSH_CLIENT_ERROR &&
    result.lastLines.some((l) => /^ssh: |Permission denied|Host key verification/.test(l))
  ) {
    throw sshClientFailure(target, result.lastLines);
  }
  if (result.code !== 0) {
    const tail = outputTail(result.lastLines);
    throw new StepFailure(
      "E_AGENT_INSTALL",
      `agent: '${command}' exited with ${result.code}${tail ? `: ${tail}` : ""}`,
    );
  }
  if (check !== undefined) {
    const after = await runRemote(target, check, { signal: ctx.signal });
    if (after.code !== 0)
      throw new StepFailure(
        "E_AGENT_INSTALL",
        `agent: installed with '${command}', but '${check}' still fails on the host (exit ${after.code}); fix the command or the check`,
      );
  }
  ctx.log("agent: installed");
  return { ...clipboard, agent: { ...design, installed: true, changed: true } };
}

/**
 * Plan: run the check (a probe, by its contract) where the host exists already; the install
 * command is planned unless the check says the agent is there. A host this plan creates is not
 * contacted.
 */
export async function planInstallByCommand(clipboard: Clipboard, ctx: StepContext): Promise<Clipboard> {
  const design =
    clipboard.agent && typeof clipboard.agent === "object"
      ? (clipboard.agent as Record<string, unknown>)
      : {};
  const command = pick(design.install, ctx.params.command, "install");
  const check = pick(design.check, ctx.params.check, "check");
  const hostname = (clipboard.instance as Record<string, unknown> | undefined)?.hostname;
  const target = `agent on ${String(hostname)}`;
  const entry = (installs: boolean): Clipboard =>
    withPlanEntries(clipboard, [
      {
        step: ctx.step,
        action: installs ? "update" : "none",
        target,
        before: null,
        after: installs && command !== undefined ? [command] : [],
      },
    ]);
  if (command === undefined) return entry(false);
  if (check === undefined || hostNotYetThere(clipboard)) return entry(true);
  const remote = sshTarget(clipboard, ctx.params);
  const probe = await runRemote(remote, check, { signal: ctx.signal });
  if (probe.code === SSH_CLIENT_ERROR) throw sshClientFailure(remote, probe.lastLines);
  return entry(probe.code !== 0);
}

function pick(fromDesign: unknown, fromParams: unknown, what: string): string | undefined {
  for (const [value, where] of [
    [fromDesign, `agent.${what} in the design`],
    [fromParams, `modules.agent.with.${what === "install" ? "command" : what}`],
  ] as const) {
    if (value === undefined || value === null) continue;
    if (typeof value !== "string" || value.trim() === "")
      throw new StepFailure("E_STEP_PARAMS", `agent: ${where} must be a shell command (a non-empty string)`);
    return value;
  }
  return undefined;
}
