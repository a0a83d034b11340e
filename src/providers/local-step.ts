/**
 * The local provider as a step module: `local:deploy`, `local:ip`, `local:poweroff`,
 * `local:delete`, `local:status`, `local:list`. Settings from jarvis.yml `modules.local.with`:
 * `state_dir` (default .state/local), `deploy_key` (default .state/keys/deploy_ed25519),
 * `address` (default 127.0.0.1), `sshd` (default /usr/sbin/sshd).
 */
import { resolve } from "node:path";
import { StepFailure } from "../step-sdk/define-step.js";
import type { StepContext } from "../step-sdk/define-step.js";
import { DEFAULT_DEPLOY_KEY, ensureDeployKey, existingDeployKey } from "../workers/deploy-key.js";
import { LocalProvider } from "./local.js";
import { runProviderStep } from "./provider-step.js";

/** Build the local provider from a step's parameters (relative paths are from the config's dir). */
export async function localProviderFrom(ctx: StepContext): Promise<LocalProvider> {
  const p = ctx.params;
  const text = (key: string, fallback: string): string => {
    const value = p[key];
    if (value === undefined) return fallback;
    if (typeof value !== "string" || value === "") {
      throw new StepFailure(
        "E_STEP_PARAMS",
        `local: parameter ${key} must be a non-empty string (modules.local.with.${key} in jarvis.yml)`,
      );
    }
    return value;
  };
  const address = text("address", "127.0.0.1");
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address) && address !== "::1") {
    throw new StepFailure(
      "E_STEP_PARAMS",
      `local: address ${address} is not a loopback address; local hosts listen on 127.0.0.0/8 or ::1 only`,
    );
  }
  const keyPath = text("deploy_key", DEFAULT_DEPLOY_KEY);
  // A plan run only looks: the key is made by ssh:prepare in the real run (its plan says so).
  const publicKey = ctx.plan
    ? (existingDeployKey(keyPath)?.publicKey ?? "")
    : (await ensureDeployKey(keyPath)).publicKey;
  return new LocalProvider({
    stateDir: resolve(text("state_dir", ".state/local")),
    deployPublicKey: publicKey,
    address,
    sshd: text("sshd", "/usr/sbin/sshd"),
  });
}

runProviderStep(import.meta.url, "local", localProviderFrom);
