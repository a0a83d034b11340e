/**
 * The ssh tasks in a plan run. They may look (read the deploy key, ssh-keyscan, read root's public
 * key) but never write: no key is generated and no design command runs. A host this plan would
 * create (its provider section holds placeholders) is not contacted at all: what only it could
 * tell (host keys, root's key) becomes a placeholder in turn.
 */
import { existingDeployKey, DEFAULT_DEPLOY_KEY } from "./deploy-key.js";
import {
  fingerprint,
  keyscan,
  knownHostsName,
  runRemote,
  sshClientFailure,
  sshTarget,
  SSH_CLIENT_ERROR,
} from "./ssh-client.js";
import { commandsFrom, rootKeyFile } from "./ssh-commands.js";
import { providerOf } from "../providers/host-address.js";
import { plannedNode } from "../providers/provider-plan.js";
import { isPlaceholder, placeholderText, withPlaceholders, withPlanEntries } from "../step-sdk/plan.js";
import type { Clipboard, StepContext } from "../step-sdk/define-step.js";

function sshSection(clipboard: Clipboard): Record<string, unknown> {
  const ssh = clipboard.ssh;
  return typeof ssh === "object" && ssh !== null && !Array.isArray(ssh)
    ? (ssh as Record<string, unknown>)
    : {};
}

function hostnameOf(clipboard: Clipboard): string {
  const instance = clipboard.instance as Record<string, unknown> | undefined;
  return typeof instance?.hostname === "string" ? instance.hostname : "?";
}

/** True when the host is one this plan would create, or its host keys are not known before the run. */
export function hostNotYetThere(clipboard: Clipboard): boolean {
  return plannedNode(clipboard, providerOf(clipboard)) || isPlaceholder(clipboard, "ssh.host_keys");
}

/** ssh:prepare: the key exists (nothing to do) or would be generated. */
export function planPrepare(clipboard: Clipboard, ctx: StepContext): Clipboard {
  const path = typeof ctx.params.deploy_key === "string" ? ctx.params.deploy_key : DEFAULT_DEPLOY_KEY;
  const key = existingDeployKey(path);
  const target = `deploy key ${path}`;
  if (key) {
    const after = { deploy_key: key.publicKey, deploy_key_fingerprint: fingerprint(key.publicKey) };
    return withPlanEntries({ ...clipboard, ssh: { ...sshSection(clipboard), ...after } }, [
      {
        step: ctx.step,
        action: "none",
        target,
        before: after.deploy_key_fingerprint,
        after: after.deploy_key_fingerprint,
      },
    ]);
  }
  const placeholder = (what: string): string => placeholderText(what, "jarvis", ctx.step);
  return withPlanEntries(
    withPlaceholders(clipboard, {
      "ssh.deploy_key": placeholder("deploy key"),
      "ssh.deploy_key_fingerprint": placeholder("deploy key fingerprint"),
    }),
    [{ step: ctx.step, action: "create", target, before: null, after: "a new ed25519 key pair" }],
  );
}

/** ssh:wait: the host keys as ssh-keyscan reads them now, or placeholders for a host not yet there. */
export async function planWait(clipboard: Clipboard, ctx: StepContext): Promise<Clipboard> {
  const host = hostnameOf(clipboard);
  if (plannedNode(clipboard, providerOf(clipboard))) {
    const placeholder = (what: string): string => placeholderText(what, host, ctx.step);
    return withPlanEntries(
      withPlaceholders(clipboard, {
        "ssh.host_keys": placeholder("ssh host keys"),
        "ssh.fingerprints": placeholder("ssh host key fingerprints"),
      }),
      [{ step: ctx.step, action: "none", target: `ssh on ${host}`, before: null, after: null }],
    );
  }
  const target = sshTarget(clipboard, ctx.params, false);
  const where = knownHostsName(target.address, target.port);
  const keys = await keyscan(target.address, target.port, Math.min(target.connectTimeoutSec, 5), ctx.signal);
  if (keys.length === 0) ctx.log(`ssh: plan: nothing answers SSH on ${where} now; the run would wait for it`);
  const fingerprints = keys.map(fingerprint);
  return withPlanEntries({ ...clipboard, ssh: { ...sshSection(clipboard), host_keys: keys, fingerprints } }, [
    { step: ctx.step, action: "none", target: `ssh on ${where}`, before: fingerprints, after: fingerprints },
  ]);
}

/** ssh:keypair: root's key exists on the host (read, not made), or would be made. */
export async function planKeypair(clipboard: Clipboard, ctx: StepContext): Promise<Clipboard> {
  const file = rootKeyFile(ctx.params);
  const host = hostnameOf(clipboard);
  const target = `root's ssh keypair on ${host}`;
  const create = (): Clipboard =>
    withPlanEntries(
      withPlaceholders(clipboard, {
        "ssh.root_pubkey": placeholderText("root's public key", host, ctx.step),
        "ssh.root_fingerprint": placeholderText("root's key fingerprint", host, ctx.step),
      }),
      [{ step: ctx.step, action: "create", target, before: null, after: "a new ed25519 key pair" }],
    );
  if (hostNotYetThere(clipboard)) return create();
  const remote = sshTarget(clipboard, ctx.params);
  const result = await runRemote(remote, `cat ${file}.pub`, { signal: ctx.signal });
  if (result.code === SSH_CLIENT_ERROR) throw sshClientFailure(remote, result.lastLines);
  const pub = result.lastLines
    .filter((l) => l.startsWith("ssh-ed25519 "))
    .pop()
    ?.trim();
  if (result.code !== 0 || !pub) return create();
  const fp = fingerprint(pub);
  return withPlanEntries(
    { ...clipboard, ssh: { ...sshSection(clipboard), root_pubkey: pub, root_fingerprint: fp } },
    [{ step: ctx.step, action: "none", target, before: fp, after: fp }],
  );
}

/** ssh:run: the commands it would run (what they change is theirs to know, so they are not run). */
export function planRun(clipboard: Clipboard, ctx: StepContext): Clipboard {
  const commands = commandsFrom(clipboard, ctx.params);
  const target = `commands on ${hostnameOf(clipboard)}`;
  return withPlanEntries(clipboard, [
    {
      step: ctx.step,
      action: commands.length > 0 ? "update" : "none",
      target,
      before: null,
      after: commands,
    },
  ]);
}
