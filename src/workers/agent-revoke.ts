/**
 * agent:revoke, for destroy.yml: the node's NATS user leaves nats-server's authorization, so a
 * decommissioned host's seed no longer connects (nats-server also drops a connection it still has
 * on the reload), and its seed leaves the secrets directory. The agent itself went with the host.
 * Without jarvis's agent (`modules.agent.with.nats` unset) there is nothing to revoke.
 */
import type { Clipboard, StepContext } from "../step-sdk/define-step.js";
import { withPlanEntries } from "../step-sdk/plan.js";
import { existingAgentUser, publicKeyOfSeedFile, revokeAgentUser } from "../nodes/agent-users.js";
import { installsJarvisAgent, natsUserSettings, reloadShown } from "./agent-install-settings.js";

const NOT_CONFIGURED =
  "agent: jarvis's agent is not configured (modules.agent.with.nats in jarvis.yml); no NATS user to revoke";

export async function revokeJarvisAgent(clipboard: Clipboard, ctx: StepContext): Promise<Clipboard | void> {
  if (!installsJarvisAgent(ctx.params)) {
    ctx.log(NOT_CONFIGURED);
    return;
  }
  const s = natsUserSettings(clipboard, ctx.params);
  const revoked = await revokeAgentUser(
    s.secretsDir,
    s.node,
    s.authorizationFile,
    publicKeyOfSeedFile(s.jarvisSeedFile),
    s.reload,
  );
  if (revoked.publicKey) {
    ctx.log(`agent: NATS user ${revoked.publicKey} of ${s.node} removed from ${s.authorizationFile}`);
  } else {
    ctx.log(`agent: ${s.node} has no NATS user in ${s.secretsDir}`);
  }
  ctx.log(revoked.reloaded ? "agent: nats-server reloaded" : "agent: nothing to revoke");
  if (!isRecord(clipboard.agent)) return;
  const { nkey: _revoked, ...agent } = clipboard.agent;
  return { ...clipboard, agent: { ...agent, installed: false } };
}

/** Plan: the user that would be revoked, if the node has one; nothing is touched. */
export function planRevokeJarvisAgent(clipboard: Clipboard, ctx: StepContext): Clipboard {
  if (!installsJarvisAgent(ctx.params)) {
    return withPlanEntries(clipboard, [
      { step: ctx.step, action: "none", target: "agent (not configured)", before: null, after: null },
    ]);
  }
  const s = natsUserSettings(clipboard, ctx.params);
  const user = existingAgentUser(s.secretsDir, s.node);
  return withPlanEntries(clipboard, [
    {
      step: ctx.step,
      action: user ? "delete" : "none",
      target: `NATS user of ${s.node}`,
      before: user
        ? { public_key: user.publicKey, seed_file: user.seedFile, authorization_file: s.authorizationFile }
        : null,
      after: user ? { reload: reloadShown(s.reload) } : null,
    },
  ]);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
