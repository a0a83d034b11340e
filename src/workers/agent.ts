/**
 * The `agent` step module. `agent:install` installs jarvis's own agent when
 * `modules.agent.with.nats` says where the agents' bus is (agent-jarvis-install.ts); otherwise
 * it runs the install command a design names for a configuration-management agent
 * (agent-command-install.ts). `agent:revoke` (destroy.yml) takes the node's NATS user out again
 * (agent-revoke.ts).
 */
import { runStepModule } from "../step-sdk/define-step.js";
import type { Clipboard, StepContext } from "../step-sdk/define-step.js";
import { installByCommand, planInstallByCommand } from "./agent-command-install.js";
import { installJarvisAgent, planJarvisAgent } from "./agent-jarvis-install.js";
import { installsJarvisAgent } from "./agent-install-settings.js";
import { planRevokeJarvisAgent, revokeJarvisAgent } from "./agent-revoke.js";

export async function install(clipboard: Clipboard, ctx: StepContext): Promise<Clipboard | void> {
  return installsJarvisAgent(ctx.params)
    ? installJarvisAgent(clipboard, ctx)
    : installByCommand(clipboard, ctx);
}

export async function planInstall(clipboard: Clipboard, ctx: StepContext): Promise<Clipboard> {
  return installsJarvisAgent(ctx.params)
    ? planJarvisAgent(clipboard, ctx)
    : planInstallByCommand(clipboard, ctx);
}

runStepModule(
  import.meta.url,
  { install, revoke: revokeJarvisAgent },
  { plan: { install: planInstall, revoke: planRevokeJarvisAgent } },
);
