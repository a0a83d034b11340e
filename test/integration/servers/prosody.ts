/**
 * A real prosody for tests: generated configuration and data in a temp dir, c2s on a free loopback
 * port without TLS (plain auth allowed only here, on loopback), a MUC component whose rooms show
 * real JIDs (whois=anyone), users created with prosodyctl. restart-able on the same port.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "../../helpers/net.js";
import { startDaemon } from "../../helpers/daemon.js";
import type { Daemon } from "../../helpers/daemon.js";

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
  let daemon: Daemon | undefined;
  const start = async (): Promise<void> => {
    daemon = await startDaemon("prosody", "prosody", ["--config", cfg, "-F"], port, 30_000);
  };
  const stop = async (): Promise<void> => {
    const running = daemon;
    daemon = undefined;
    await running?.stop();
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
