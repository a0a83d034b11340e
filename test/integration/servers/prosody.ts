/**
 * A real prosody for tests: generated configuration and data in a temp dir, c2s on a free loopback
 * port without TLS (plain auth allowed only here, on loopback), a MUC component whose rooms show
 * real JIDs (whois=anyone), users created with prosodyctl. restart-able on the same port.
 */
import { execFile, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort, waitForPort } from "../../helpers/net.js";

const run = promisify(execFile);

/** A running prosody serving the domain `localhost` and MUC `conference.localhost`. */
export interface Prosody {
  port: number;
  domain: string;
  muc: string;
  /** xmpp://127.0.0.1:<port> */
  service: string;
  register(user: string, password: string): Promise<void>;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** Start prosody on a free loopback port. */
export async function startProsody(): Promise<Prosody> {
  const dir = mkdtempSync(join(tmpdir(), "jarvis-prosody-"));
  const port = await freePort();
  const cfg = join(dir, "prosody.cfg.lua");
  mkdirSync(join(dir, "data"));
  mkdirSync(join(dir, "certs"));
  writeFileSync(
    cfg,
    `run_as_root = true
daemonize = false
pidfile = "${join(dir, "prosody.pid")}"
data_path = "${join(dir, "data")}"
certificates = "${join(dir, "certs")}"
modules_enabled = { "roster"; "saslauth"; "disco"; "ping"; "presence"; "message"; "iq" }
modules_disabled = { "s2s"; "offline"; "posix"; "limits" }
c2s_ports = { ${port} }
c2s_interfaces = { "127.0.0.1" }
c2s_direct_tls_ports = { }
legacy_ssl_ports = { }
s2s_ports = { }
http_ports = { }
https_ports = { }
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_hashed"
storage = "internal"
log = { { levels = { min = "warn" }, to = "console" } }
VirtualHost "localhost"
Component "conference.localhost" "muc"
  muc_room_default_public_jids = true
  muc_room_locking = false
`,
  );
  let child: ChildProcess | undefined;
  let output = "";
  const start = async (): Promise<void> => {
    const proc = spawn("prosody", ["--config", cfg, "-F"], { stdio: ["ignore", "pipe", "pipe"] });
    const keep = (chunk: Buffer): void => void (output = (output + chunk.toString()).slice(-4000));
    proc.stdout?.on("data", keep);
    proc.stderr?.on("data", keep);
    child = proc;
    try {
      await waitForPort(port, "127.0.0.1", 30_000);
    } catch (err) {
      throw new Error(`prosody did not start on ${port}: ${output}`, { cause: err });
    }
  };
  const stop = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      const kill = setTimeout(() => proc.kill("SIGKILL"), 5_000);
      proc.once("exit", () => {
        clearTimeout(kill);
        resolve();
      });
      proc.kill("SIGTERM");
    });
  };
  await start();
  return {
    port,
    domain: "localhost",
    muc: "conference.localhost",
    service: `xmpp://127.0.0.1:${port}`,
    async register(user, password) {
      await run("prosodyctl", ["--config", cfg, "register", user, "localhost", password], {
        timeout: 30_000,
      });
    },
    stop,
    start,
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
