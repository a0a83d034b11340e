/**
 * agent:install with jarvis's agent (`modules.agent.with.nats` set; docs/agents.md "Install"):
 *
 *  1. the node's NATS user: its NKEY seed made once, kept in the secrets directory; the
 *     authorization include rewritten with it and nats-server reloaded;
 *  2. over SSH, into the agent's directory: the one-file agent (dist/agent/jarvis-agent.mjs),
 *     agent.yml, the seed, the TLS files and, on a real host, the systemd unit (only what changed);
 *  3. the agent stopped, then started (systemd, or a detached process on a local-provider host);
 *  4. its first heartbeat awaited, within `online_timeout`.
 *
 * The clipboard gets `agent: {node, version, online_at, changed, nkey: {public_key, seed_file}}`:
 * the seed itself never leaves its file except into the host's.
 */
import { createPublicKey } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { StepFailure } from "../step-sdk/define-step.js";
import type { Clipboard, StepContext } from "../step-sdk/define-step.js";
import { withPlanEntries } from "../step-sdk/plan.js";
import { loadPrivateKey } from "../agent/signing.js";
import { hostAddress } from "../providers/host-address.js";
import {
  ensureAgentUser,
  existingAgentUser,
  publicKeyOfSeedFile,
  reloadNats,
  writeAuthorization,
} from "../nodes/agent-users.js";
import { installSettings, reloadShown } from "./agent-install-settings.js";
import type { AgentInstallSettings } from "./agent-install-settings.js";
import {
  agentYmlText,
  BUNDLE_FILE,
  localLayout,
  SYSTEMD_UNIT,
  systemdLayout,
  systemdUnitText,
  TLS_FILES,
} from "./agent-layout.js";
import type { AgentLayout } from "./agent-layout.js";
import { agentLogTail, hostState, sendFile, serviceCommand, sha256 } from "./agent-remote.js";
import type { AgentFile } from "./agent-remote.js";
import { watchHeartbeats } from "./agent-online.js";
import { sshTarget } from "./ssh-client.js";

/** dist/agent/jarvis-agent.mjs, beside dist/src/ where this step runs from. */
const BUNDLE = fileURLToPath(new URL(`../../agent/${BUNDLE_FILE}`, import.meta.url));

export async function installJarvisAgent(clipboard: Clipboard, ctx: StepContext): Promise<Clipboard> {
  const s = installSettings(clipboard, ctx.params);
  const layout = layoutFor(clipboard, s);
  const target = sshTarget(clipboard, ctx.params);
  const signingPublicKey = signingPublicKeyOf(s.signingKeyFile);
  const jarvisUser = publicKeyOfSeedFile(s.jarvisSeedFile);

  const user = ensureAgentUser(s.secretsDir, s.node);
  if (await writeAuthorization(s.authorizationFile, jarvisUser, s.secretsDir)) {
    ctx.log(
      `agent: NATS user ${user.publicKey} for ${s.node} written to ${s.authorizationFile}; reloading nats-server`,
    );
    await reloadNats(s.reload);
  }
  const files = agentFiles(s, layout, signingPublicKey, readFileSync(user.seedFile));
  const state = await hostState(
    target,
    layout,
    files.map((f) => f.name),
    ctx.signal,
  );
  const major = Number(/^v(\d+)/.exec(state.nodeVersion ?? "")?.[1] ?? 0);
  if (major < 20) {
    throw new StepFailure(
      "E_AGENT_NODEJS",
      `agent: the host has ${state.nodeVersion ? `Node.js ${state.nodeVersion}` : `no ${layout.nodeBinary}`}; jarvis's agent needs Node.js 20 or later (apt-get install nodejs, or set modules.agent.with.node_binary)`,
    );
  }
  const changed = files.filter((f) => state.hashes.get(f.name) !== sha256(f.content));
  for (const file of changed) {
    ctx.log(`agent: writing ${layout.dirShown}/${file.name}`);
    await sendFile(target, layout, file, ctx.signal);
  }

  const watch = await watchHeartbeats(s);
  try {
    await serviceCommand(target, layout, "stop", ctx.signal);
    await watch.listen();
    await serviceCommand(target, layout, "start", ctx.signal);
    ctx.log(
      `agent: started (${layout.kind === "systemd" ? `systemd unit ${SYSTEMD_UNIT}` : `process under ${layout.dirShown}`}); waiting up to ${s.onlineTimeoutMs / 1000}s for its first heartbeat`,
    );
    const beat = await watch.first(s.onlineTimeoutMs, ctx.signal);
    if (!beat) {
      const tail = await agentLogTail(target, layout, ctx.signal);
      throw new StepFailure(
        "E_AGENT_OFFLINE",
        `agent: ${s.node} sent no heartbeat within ${s.onlineTimeoutMs / 1000}s${tail ? `; its log: ${tail}` : ""}; check that the host reaches ${s.agentUrls.join(", ")} and that nats-server includes ${s.authorizationFile}`,
        { retryable: true },
      );
    }
    ctx.log(`agent: ${s.node} is online (agent ${beat.version})`);
    const design = isRecord(clipboard.agent) ? clipboard.agent : {};
    return {
      ...clipboard,
      agent: {
        ...design,
        installed: true,
        changed: changed.length > 0,
        node: s.node,
        version: beat.version,
        online_at: new Date(beat.at).toISOString(),
        nkey: { public_key: user.publicKey, seed_file: user.seedFile },
      },
    };
  } finally {
    await watch.close();
  }
}

/** Plan: what would be provisioned and installed; neither the host nor nats-server is touched. */
export function planJarvisAgent(clipboard: Clipboard, ctx: StepContext): Clipboard {
  const s = installSettings(clipboard, ctx.params);
  const layout = layoutFor(clipboard, s);
  const user = existingAgentUser(s.secretsDir, s.node);
  const files = [
    BUNDLE_FILE,
    "agent.yml",
    "agent.nk",
    ...tlsNames(s),
    ...(layout.kind === "systemd" ? [SYSTEMD_UNIT] : []),
  ];
  return withPlanEntries(clipboard, [
    {
      step: ctx.step,
      action: user ? "none" : "create",
      target: `NATS user of ${s.node}`,
      before: user ? { public_key: user.publicKey } : null,
      after: {
        seed_file: user?.seedFile ?? `${s.secretsDir}/${s.node}.nk`,
        authorization_file: s.authorizationFile,
        reload: reloadShown(s.reload),
      },
    },
    {
      step: ctx.step,
      action: "update",
      target: `agent on ${s.node}`,
      before: null,
      after: {
        files: files.map((f) => `${layout.dirShown}/${f}`),
        service:
          layout.kind === "systemd"
            ? `systemd unit ${SYSTEMD_UNIT} (enabled, restarted)`
            : "a process beside the host's sshd (restarted)",
        nats: s.agentUrls,
        online_within_seconds: s.onlineTimeoutMs / 1000,
      },
    },
  ]);
}

function layoutFor(clipboard: Clipboard, s: AgentInstallSettings): AgentLayout {
  // A local-provider host is a directory on this machine: the agent runs on the Node.js running us.
  return hostAddress(clipboard).provider === "local"
    ? localLayout(s.nodeBinary ?? process.execPath)
    : systemdLayout(s.nodeBinary);
}

function agentFiles(
  s: AgentInstallSettings,
  layout: AgentLayout,
  signingPublicKey: string,
  seed: Buffer,
): AgentFile[] {
  if (!existsSync(BUNDLE)) {
    throw new StepFailure("E_AGENT_BUNDLE", `agent: ${BUNDLE} is missing; build it with: npm run build`);
  }
  const files: AgentFile[] = [
    { name: BUNDLE_FILE, content: readFileSync(BUNDLE), mode: 0o644 },
    { name: "agent.yml", content: agentYmlText(s, layout, signingPublicKey), mode: 0o600 },
    { name: "agent.nk", content: seed, mode: 0o600 },
  ];
  const tls = s.jarvisNats.tls;
  if (tls) {
    files.push({ name: TLS_FILES.ca, content: readLocal(tls.ca, "nats.tls.ca"), mode: 0o644 });
    if (tls.cert)
      files.push({ name: TLS_FILES.cert, content: readLocal(tls.cert, "nats.tls.cert"), mode: 0o644 });
    if (tls.key)
      files.push({ name: TLS_FILES.key, content: readLocal(tls.key, "nats.tls.key"), mode: 0o600 });
  }
  if (layout.kind === "systemd") {
    files.push({ name: SYSTEMD_UNIT, content: systemdUnitText(layout.nodeBinary), mode: 0o644 });
  }
  return files;
}

function tlsNames(s: AgentInstallSettings): string[] {
  const tls = s.jarvisNats.tls;
  if (!tls) return [];
  return [TLS_FILES.ca, ...(tls.cert ? [TLS_FILES.cert] : []), ...(tls.key ? [TLS_FILES.key] : [])];
}

function readLocal(file: string, key: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new StepFailure(
      "E_AGENT_TLS",
      `agent: cannot read ${file} (modules.agent.with.${key}): ${(err as Error).message}`,
    );
  }
}

function signingPublicKeyOf(file: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, "utf8");
  } catch (err) {
    throw new StepFailure(
      "E_AGENT_KEYS",
      `agent: cannot read the job signing key ${file}: ${(err as Error).message}; make one with: jarvis agent keys DIR`,
    );
  }
  return createPublicKey(loadPrivateKey(pem)).export({ type: "spki", format: "der" }).toString("base64");
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
