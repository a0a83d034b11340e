/**
 * The `ssh` step module: `ssh:prepare` (jarvis's deploy key, made when absent), `ssh:wait` (wait until the host answers, record its host keys and
 * fingerprints), `ssh:keypair` (root's ed25519 keypair, made on the host), `ssh:run` (commands from
 * the pipeline or the design, output streamed as progress).
 */
import { runStepModule, StepFailure } from "../step-sdk/define-step.js";
import type { Clipboard, StepContext } from "../step-sdk/define-step.js";
import { DEFAULT_DEPLOY_KEY, ensureDeployKey } from "./deploy-key.js";
import {
  fingerprint,
  keyscan,
  knownHostsName,
  outputTail,
  runRemote,
  sshClientFailure,
  sshTarget,
  SSH_CLIENT_ERROR,
} from "./ssh-client.js";
import { commandsFrom, rootKeyFile } from "./ssh-commands.js";
import { planKeypair, planPrepare, planRun, planWait } from "./ssh-plan.js";

// The command list for ssh:run, where tests have always found it.
export { commandsFrom };

/** Make sure jarvis's deploy key exists (generated when absent); record its public half. */
export async function prepare(clipboard: Clipboard, ctx: StepContext): Promise<Clipboard> {
  const path = typeof ctx.params.deploy_key === "string" ? ctx.params.deploy_key : DEFAULT_DEPLOY_KEY;
  const key = await ensureDeployKey(path).catch((err: unknown) => {
    throw new StepFailure("E_SSH_DEPLOY_KEY", `ssh: ${err instanceof Error ? err.message : String(err)}`);
  });
  ctx.log(`ssh: deploy key ${key.path} is ${fingerprint(key.publicKey)}`);
  const previous = isRecord(clipboard.ssh) ? clipboard.ssh : {};
  return {
    ...clipboard,
    ssh: { ...previous, deploy_key: key.publicKey, deploy_key_fingerprint: fingerprint(key.publicKey) },
  };
}

/** Wait for SSH with bounded attempts and backoff, then record `ssh: {host_keys, fingerprints}`. */
export async function wait(clipboard: Clipboard, ctx: StepContext): Promise<Clipboard> {
  const target = sshTarget(clipboard, ctx.params, false);
  const where = knownHostsName(target.address, target.port);
  const attempts = positive(ctx.params.attempts, "attempts", 30);
  const budgetMs = positive(ctx.params.timeout, "timeout", 300) * 1000;
  const deadline = Date.now() + budgetMs;
  let delay = 500;
  let lastProblem = "no answer";
  for (let attempt = 1; attempt <= attempts && Date.now() < deadline; attempt++) {
    const keys = await keyscan(
      target.address,
      target.port,
      Math.min(target.connectTimeoutSec, 5),
      ctx.signal,
    );
    if (keys.length > 0) {
      const result = await runRemote({ ...target, hostKeys: keys }, "true", { signal: ctx.signal });
      if (result.code === 0) {
        const fingerprints = keys.map(fingerprint);
        ctx.log(`ssh: ${where} answers; host keys ${fingerprints.join(", ")}`);
        const previous = isRecord(clipboard.ssh) ? clipboard.ssh : {};
        return { ...clipboard, ssh: { ...previous, host_keys: keys, fingerprints } };
      }
      const failure = sshClientFailure({ ...target, hostKeys: keys }, result.lastLines);
      // A refused key does not fix itself by waiting; a connection that drops might.
      if (!failure.retryable) throw failure;
      lastProblem = failure.message;
    } else {
      lastProblem = `nothing answered SSH on ${where}`;
    }
    if (attempt === attempts || Date.now() + delay >= deadline) break;
    ctx.log(
      `ssh: ${where} not ready (attempt ${attempt}/${attempts}); retrying in ${Math.round(delay / 100) / 10}s`,
    );
    await sleep(delay, ctx.signal);
    delay = Math.min(delay * 2, 10_000);
  }
  throw new StepFailure(
    "E_SSH_TIMEOUT",
    `ssh: ${where} did not let jarvis in within ${attempts} attempts / ${budgetMs / 1000}s (${lastProblem}); check the host is up`,
    { retryable: true },
  );
}

/** Generate root's ed25519 keypair on the host (kept if it exists); record the public key. */
export async function keypair(clipboard: Clipboard, ctx: StepContext): Promise<Clipboard> {
  const target = sshTarget(clipboard, ctx.params);
  const file = rootKeyFile(ctx.params);
  const hostname = (clipboard.instance as Record<string, unknown> | undefined)?.hostname;
  const comment =
    typeof hostname === "string" && /^[A-Za-z0-9.-]+$/.test(hostname)
      ? `root@${hostname}`
      : "root@$(hostname)";
  const command = [
    "umask 077",
    `mkdir -p "$(dirname ${file})"`,
    `{ test -f ${file} || ssh-keygen -q -t ed25519 -N '' -C "${comment}" -f ${file}; }`,
    `cat ${file}.pub`,
  ].join(" && ");
  const result = await runRemote(target, command, { signal: ctx.signal });
  if (result.code === SSH_CLIENT_ERROR) throw sshClientFailure(target, result.lastLines);
  const pub = result.lastLines.filter((l) => l.startsWith("ssh-ed25519 ")).pop();
  if (result.code !== 0 || !pub) {
    throw new StepFailure(
      "E_SSH_COMMAND",
      `ssh:keypair: making the keypair on the host failed (exit ${result.code}): ${result.lastLines.slice(-3).join(" | ")}`,
    );
  }
  const fp = fingerprint(pub);
  ctx.log(`ssh: root's public key on the host is ${fp}`);
  const previous = isRecord(clipboard.ssh) ? clipboard.ssh : {};
  return { ...clipboard, ssh: { ...previous, root_pubkey: pub.trim(), root_fingerprint: fp } };
}

/** Run the commands of `with.commands`, or of the clipboard list at `with.from`, one by one. */
export async function runCommands(clipboard: Clipboard, ctx: StepContext): Promise<void> {
  const commands = commandsFrom(clipboard, ctx.params);
  if (commands.length === 0) {
    ctx.log(
      `ssh:run: no commands given (with.commands, or with.from naming a list in the design); nothing to do`,
    );
    return;
  }
  const target = sshTarget(clipboard, ctx.params);
  for (const command of commands) {
    ctx.log(`$ ${command}`);
    const result = await runRemote(target, command, {
      signal: ctx.signal,
      onLine: (line) => ctx.log(`  ${line}`),
      keep: 10,
    });
    if (result.code === 0) continue;
    if (
      result.code === SSH_CLIENT_ERROR &&
      result.lastLines.some((l) => /^ssh: |Permission denied|Host key verification/.test(l))
    ) {
      throw sshClientFailure(target, result.lastLines);
    }
    const tail = outputTail(result.lastLines);
    throw new StepFailure(
      "E_SSH_COMMAND",
      `ssh:run: '${command}' exited with ${result.code}${tail ? `: ${tail}` : ""}`,
    );
  }
}

function positive(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value > 0))
    throw new StepFailure("E_STEP_PARAMS", `ssh: parameter ${name} must be a positive number`);
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(
          new StepFailure("E_STEP_ABORTED", "stopped by jarvis while waiting for SSH", { retryable: true }),
        );
      },
      { once: true },
    );
  });
}

runStepModule(
  import.meta.url,
  { prepare, wait, keypair, run: runCommands },
  { plan: { prepare: planPrepare, wait: planWait, keypair: planKeypair, run: planRun } },
);
