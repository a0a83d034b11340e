/**
 * jarvis's deploy key: the ed25519 key every deployed host authorises and every SSH step logs in
 * with. Generated on first use when absent; the private half stays in its file and is never read
 * into jarvis (ssh reads it itself), so it cannot leak into a clipboard or log.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Where the deploy key lives unless jarvis.yml says otherwise (relative to the config's directory). */
export const DEFAULT_DEPLOY_KEY = ".state/keys/deploy_ed25519";

/** The deploy key as steps use it: the private key's path and the public key line. */
export interface DeployKey {
  /** Absolute path of the private key file (passed to ssh as IdentityFile). */
  path: string;
  /** The public key line, `ssh-ed25519 AAAA... comment`. */
  publicKey: string;
}

/** Return the deploy key at `path`, generating it (ed25519, no passphrase) when it does not exist. */
export async function ensureDeployKey(path: string = DEFAULT_DEPLOY_KEY): Promise<DeployKey> {
  const file = resolve(path);
  if (!existsSync(file)) await generate(file);
  if (!existsSync(`${file}.pub`)) {
    // A private key without its public half (copied by hand): derive it rather than failing.
    const { stdout } = await run("ssh-keygen", ["-y", "-f", file]).catch((err: unknown) => {
      throw new Error(
        `deploy key ${file} cannot be read by ssh-keygen (${firstLine(err)}); fix its permissions or remove it to have a new one generated`,
      );
    });
    return { path: file, publicKey: stdout.trim() };
  }
  return { path: file, publicKey: readFileSync(`${file}.pub`, "utf8").trim() };
}

/** The deploy key at `path` when it and its public half exist; a plan run reads, never generates. */
export function existingDeployKey(path: string = DEFAULT_DEPLOY_KEY): DeployKey | undefined {
  const file = resolve(path);
  if (!existsSync(file) || !existsSync(`${file}.pub`)) return undefined;
  return { path: file, publicKey: readFileSync(`${file}.pub`, "utf8").trim() };
}

async function generate(file: string): Promise<void> {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  // Generate beside the target and rename into place, so two steps starting at once never see a
  // half-written key: the loser's rename just replaces an identical-purpose fresh key pair.
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  try {
    await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "jarvis-deploy", "-f", tmp]);
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
    throw new Error(
      missing
        ? "ssh-keygen is not installed; install it with: apt-get install openssh-client"
        : `could not generate the deploy key ${file}: ${firstLine(err)}`,
    );
  }
  if (existsSync(file)) {
    rmSync(tmp, { force: true });
    rmSync(`${tmp}.pub`, { force: true });
    return;
  }
  renameSync(`${tmp}.pub`, `${file}.pub`);
  renameSync(tmp, file);
}

function firstLine(err: unknown): string {
  const e = err as { stderr?: string; message?: string };
  return (e.stderr?.trim() || e.message || String(err)).split("\n")[0] ?? "";
}
