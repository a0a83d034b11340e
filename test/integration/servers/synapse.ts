/**
 * A real Synapse 1.67.0 for the Matrix tests, run from its source tarball on Debian's python3-*
 * packages (scripts/test-services installs them; ../shared/vendor/README.md has the facts). The
 * tarball is unpacked once into a cache dir keyed by its hash, with the package metadata Synapse
 * checks at start generated there; each server gets its own data dir, signing key and port.
 * Users are made with shared-secret registration. Starting takes 3-8 s on 2 cores (more when
 * busy), so a test file starts one and shares it.
 */
import { spawn, execFile } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createHash, createHmac, generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "../../helpers/net.js";
import type { MatrixTestServer } from "./matrix-server.js";

const run = promisify(execFile);
/** Debian's python, which sees the python3-* packages (a pyenv python earlier on PATH does not). */
const PYTHON = "/usr/bin/python3";
const READY_TIMEOUT_MS = 180_000;
const RAISED = "{per_second: 100000, burst_count: 100000}";

/** Unpack the tarball once per content into the temp dir; returns the tree to put on PYTHONPATH. */
async function synapseTree(tarball: string): Promise<string> {
  const hash = createHash("sha256").update(readFileSync(tarball)).digest("hex").slice(0, 16);
  const tree = join(tmpdir(), `jarvis-synapse-${hash}`);
  if (existsSync(join(tree, "matrix_synapse-1.67.0.dist-info"))) return tree;
  // Unpack beside it and rename into place, so test files starting at once never see half a tree.
  const partial = mkdtempSync(`${tree}.partial-`);
  try {
    await run("tar", ["-xzf", tarball, "-C", partial], { timeout: 120_000 });
    await run(
      PYTHON,
      ["-c", "from poetry.core.masonry.api import prepare_metadata_for_build_wheel as p; p('.')"],
      { cwd: partial, timeout: 120_000 },
    );
    try {
      renameSync(partial, tree);
    } catch (err) {
      // Another test file finished first: use its tree.
      if (!existsSync(join(tree, "matrix_synapse-1.67.0.dist-info"))) throw err;
    }
  } catch (err) {
    throw new Error(
      `could not prepare Synapse from ${tarball}: ${String(err)}; are its Debian packages installed ` +
        `(bash scripts/test-services, as root)?`,
      { cause: err },
    );
  } finally {
    rmSync(partial, { recursive: true, force: true });
  }
  return tree;
}

/**
 * A signing key in signedjson's file format ("ed25519 <key id> <unpadded base64 seed>"): what
 * `--generate-keys` writes, made here because that costs a whole extra Python start.
 */
function signingKey(): string {
  const seed = generateKeyPairSync("ed25519").privateKey.export({ format: "jwk" }).d;
  if (!seed) throw new Error("no ed25519 seed");
  const base64 = Buffer.from(seed, "base64url").toString("base64").replace(/=+$/, "");
  return `ed25519 a_${randomBytes(3).toString("hex").slice(0, 4)} ${base64}\n`;
}

function homeserverYaml(dir: string, port: number, secret: string): string {
  const limits = [
    `rc_message: ${RAISED}`,
    `rc_registration: ${RAISED}`,
    `rc_login: {address: ${RAISED}, account: ${RAISED}, failed_attempts: ${RAISED}}`,
    `rc_admin_redaction: ${RAISED}`,
    `rc_joins: {local: ${RAISED}, remote: ${RAISED}}`,
    `rc_joins_per_room: ${RAISED}`,
    `rc_3pid_validation: ${RAISED}`,
    `rc_invites: {per_room: ${RAISED}, per_user: ${RAISED}, per_issuer: ${RAISED}}`,
    `rc_third_party_invite: ${RAISED}`,
    `rc_key_requests: ${RAISED}`,
  ];
  return `server_name: localhost
pid_file: ${join(dir, "homeserver.pid")}
signing_key_path: ${join(dir, "signing.key")}
media_store_path: ${join(dir, "media")}
log_config: ${join(dir, "log.yaml")}
listeners:
  - {port: ${port}, type: http, tls: false, x_forwarded: false, bind_addresses: ['127.0.0.1'], resources: [{names: [client], compress: false}]}
database: {name: sqlite3, args: {database: ${join(dir, "homeserver.db")}}}
registration_shared_secret: ${secret}
enable_registration: false
report_stats: false
trusted_key_servers: []
suppress_key_server_warning: true
federation_domain_whitelist: []
presence: {enabled: false}
${limits.join("\n")}
`;
}

const LOG_YAML = `version: 1
formatters: {brief: {format: '%(asctime)s %(levelname)s %(name)s: %(message)s'}}
handlers: {console: {class: logging.StreamHandler, formatter: brief}}
root: {level: WARNING, handlers: [console]}
disable_existing_loggers: false
`;

/** Start Synapse on a free loopback port, for server name `localhost`. */
export async function startSynapse(tarball: string): Promise<MatrixTestServer> {
  const tree = await synapseTree(tarball);
  const dir = mkdtempSync(join(tmpdir(), "jarvis-synapse-data-"));
  const port = await freePort();
  const secret = randomBytes(16).toString("hex");
  const config = join(dir, "homeserver.yaml");
  writeFileSync(config, homeserverYaml(dir, port, secret));
  writeFileSync(join(dir, "log.yaml"), LOG_YAML);
  writeFileSync(join(dir, "signing.key"), signingKey(), { mode: 0o600 });
  mkdirSync(join(dir, "media"));
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let log = "";

  const start = async (): Promise<void> => {
    log = "";
    const proc = spawn(PYTHON, ["-m", "synapse.app.homeserver", "-c", config], {
      cwd: dir,
      env: { ...process.env, PYTHONPATH: tree },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child = proc;
    const keep = (chunk: Buffer): void => void (log = (log + chunk.toString()).slice(-6000));
    proc.stdout.on("data", keep);
    proc.stderr.on("data", keep);
    const started = Date.now();
    while (Date.now() - started < READY_TIMEOUT_MS) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(`Synapse exited while starting (${proc.exitCode ?? proc.signalCode}):\n${log}`);
      }
      const ready = await fetch(`${url}/_matrix/client/versions`).then(
        (res) => res.ok,
        () => false,
      );
      if (ready) return;
      await sleep(200);
    }
    proc.kill("SIGKILL");
    throw new Error(`Synapse did not answer on ${url} within ${READY_TIMEOUT_MS} ms:\n${log}`);
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once("exit", resolve));
    proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), 15_000);
    await exited;
    clearTimeout(timer);
  };

  await start();
  return {
    description: `Synapse 1.67.0 (${tarball})`,
    url,
    async register(localpart) {
      // Shared-secret registration: an HMAC-SHA1 over nonce, user, password and admin flag.
      const endpoint = `${url}/_synapse/admin/v1/register`;
      const { nonce } = (await (await fetch(endpoint)).json()) as { nonce: string };
      const password = randomBytes(12).toString("hex");
      const mac = createHmac("sha1", secret)
        .update([nonce, localpart, password, "notadmin"].join("\0"))
        .digest("hex");
      const res = await fetch(endpoint, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ nonce, username: localpart, password, admin: false, mac }),
      });
      const body = (await res.json()) as { access_token?: string; error?: string };
      if (!res.ok || !body.access_token) {
        throw new Error(`Synapse refused to register ${localpart}: ${res.status} ${body.error ?? ""}`);
      }
      return body.access_token;
    },
    stop,
    start,
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
