/**
 * The agents' NATS users as agent:install provisions them. Each node gets its own NKEY: the seed
 * in `<secrets dir>/<node>.nk` (mode 0600; jarvis copies it to the host and never prints it) and
 * the public key in `<node>.pub`. From all the public keys jarvis writes the `authorization`
 * block nats-server includes (nats-authorization.ts), swapped in whole, then tells nats-server to
 * reload: nats-server 2.9 takes new users and permissions on SIGHUP without dropping connections.
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { execFile } from "node:child_process";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { fromSeed } from "@nats-io/nkeys";
import { AgentError } from "../errors.js";
import { isNodeName } from "../agent/protocol.js";
import { natsAuthorization, newNkeyUser } from "./nats-authorization.js";

const run = promisify(execFile);

export interface AgentUser {
  node: string;
  publicKey: string;
  /** The seed's file; its content stays there. */
  seedFile: string;
}

/** How nats-server is told to read its configuration again. */
export type NatsReload = { kind: "pid-file"; file: string } | { kind: "command"; argv: string[] };

function files(dir: string, node: string): { seed: string; pub: string } {
  if (!isNodeName(node)) {
    throw new AgentError("E_AGENT_NODE", `'${node}' is not a node name (letters, digits, '-', '.')`);
  }
  return { seed: join(dir, `${node}.nk`), pub: join(dir, `${node}.pub`) };
}

/** The node's user if jarvis made one already. */
export function existingAgentUser(dir: string, node: string): AgentUser | undefined {
  const f = files(dir, node);
  if (!existsSync(f.seed) || !existsSync(f.pub)) return undefined;
  return { node, publicKey: readFileSync(f.pub, "utf8").trim(), seedFile: f.seed };
}

/** The node's user, made on first use; a reinstalled host keeps its key. */
export function ensureAgentUser(dir: string, node: string): AgentUser {
  const existing = existingAgentUser(dir, node);
  if (existing) return existing;
  const f = files(dir, node);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const user = newNkeyUser();
  // The seed first: a .pub without its seed would be a user nobody can be.
  writeFileSync(`${f.seed}.tmp`, `${user.seed}\n`, { mode: 0o600 });
  renameSync(`${f.seed}.tmp`, f.seed);
  writeFileSync(f.pub, `${user.publicKey}\n`);
  return { node, publicKey: user.publicKey, seedFile: f.seed };
}

/** What revoking a node's user found and did. */
export interface Revocation {
  /** The public key taken out, when the node still had a user. */
  publicKey: string | undefined;
  /** True when nats-server was told to reload. */
  reloaded: boolean;
}

/**
 * Take the node's user out of the authorization and out of nats-server, then delete its seed.
 * The .pub goes first, so the rewritten authorization leaves the user out; the seed goes last,
 * once nats-server has reloaded (and so disconnected the user): a seed without its .pub is a
 * revocation nats-server may not have taken yet, and revoking again reloads again. With neither
 * file left and the authorization as it should be, nothing is done: revoking twice is no error.
 */
export async function revokeAgentUser(
  dir: string,
  node: string,
  authorizationFile: string,
  jarvisPublicKey: string,
  reload: NatsReload,
): Promise<Revocation> {
  const f = files(dir, node);
  const publicKey = existingAgentUser(dir, node)?.publicKey;
  const pending = existsSync(f.seed) || existsSync(f.pub);
  // No authorization yet: no nats-server ever let this node in, and none need be asked.
  if (!pending && !existsSync(authorizationFile)) return { publicKey, reloaded: false };
  rmSync(f.pub, { force: true });
  const changed = await writeAuthorization(authorizationFile, jarvisPublicKey, dir);
  const reloaded = changed || pending;
  if (reloaded) await reloadNats(reload);
  rmSync(f.seed, { force: true });
  return { publicKey, reloaded };
}

/** Every provisioned node and its public key, by node name. */
export function agentUsers(dir: string): Map<string, string> {
  const users = new Map<string, string>();
  if (!existsSync(dir)) return users;
  for (const name of readdirSync(dir).sort()) {
    const node = name.endsWith(".pub") ? name.slice(0, -4) : undefined;
    if (node && isNodeName(node) && existsSync(join(dir, `${node}.nk`))) {
      users.set(node, readFileSync(join(dir, name), "utf8").trim());
    }
  }
  return users;
}

/** The public key of jarvis's own NKEY seed file (jarvis's user in the authorization). */
export function publicKeyOfSeedFile(file: string): string {
  try {
    return fromSeed(new TextEncoder().encode(readFileSync(file, "utf8").trim())).getPublicKey();
  } catch (err) {
    throw new AgentError(
      "E_AGENT_KEYS",
      `cannot read jarvis's NKEY seed ${file}: ${(err as Error).message}; check nats.nkey_seed_file`,
      { cause: err },
    );
  }
}

/**
 * Rewrite `file` with jarvis's user and every agent user in `dir`; true when its text changed.
 * Installs of several hosts at once each hold a lock while they list the users and write, so
 * none drops another's user.
 */
export async function writeAuthorization(
  file: string,
  jarvisPublicKey: string,
  dir: string,
): Promise<boolean> {
  const lock = `${file}.lock`;
  mkdirSync(dirname(file), { recursive: true });
  await takeLock(lock);
  try {
    const text =
      "# Written by jarvis (agent:install) from its agents' NKEY users; edits are overwritten.\n" +
      natsAuthorization(jarvisPublicKey, agentUsers(dir));
    if (existsSync(file) && readFileSync(file, "utf8") === text) return false;
    writeFileSync(`${file}.tmp`, text, { mode: 0o640 });
    renameSync(`${file}.tmp`, file);
    return true;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

async function takeLock(lock: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      mkdirSync(lock);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    // A lock left by an install that died holds nobody: writing takes milliseconds.
    const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
    if (age > 60_000) rmSync(lock, { recursive: true, force: true });
    if (Date.now() > deadline) {
      throw new AgentError(
        "E_AGENT_AUTHORIZATION",
        `${lock} has been held for 30 s by another install; remove it if no agent:install is running`,
        { retryable: true },
      );
    }
    await sleep(100);
  }
}

/** Ask nats-server to read its configuration (and so the authorization) again. */
export async function reloadNats(reload: NatsReload): Promise<void> {
  if (reload.kind === "pid-file") {
    let pid: number;
    try {
      pid = Number(readFileSync(reload.file, "utf8").trim());
    } catch (err) {
      throw new AgentError(
        "E_AGENT_NATS_RELOAD",
        `cannot read nats-server's pid file ${reload.file}: ${(err as Error).message}; set pid_file in nats-server's configuration, or use nats_reload.command`,
        { cause: err },
      );
    }
    try {
      process.kill(pid, "SIGHUP");
    } catch (err) {
      throw new AgentError(
        "E_AGENT_NATS_RELOAD",
        `cannot signal nats-server (pid ${pid} from ${reload.file}): ${(err as Error).message}; is it running, and may jarvis signal it?`,
        { cause: err },
      );
    }
    return;
  }
  const [cmd, ...args] = reload.argv;
  try {
    await run(cmd!, args, { timeout: 60_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new AgentError(
      "E_AGENT_NATS_RELOAD",
      `'${reload.argv.join(" ")}' failed: ${(e.stderr ?? "").trim() || e.message}; fix nats_reload.command in modules.agent.with`,
      { cause: err },
    );
  }
}
