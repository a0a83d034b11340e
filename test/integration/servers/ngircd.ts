/**
 * A real ngircd for tests: generated configuration in a temp dir, a free loopback port, started in
 * the foreground (-n) and stopped (SIGTERM, then SIGKILL) afterwards. restart() stops and starts
 * it on the same port, for tests of reconnecting clients. Flood penalties are off so tests and the
 * bench measure jarvis, not the server's throttling.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../helpers/net.js";
import { startDaemon } from "../../helpers/daemon.js";
import type { Daemon } from "../../helpers/daemon.js";

/** A running ngircd. */
export interface Ngircd {
  port: number;
  /** Stop the server (clients see their connections close). */
  stop(): Promise<void>;
  /** Start it again on the same port. */
  start(): Promise<void>;
  /** Stop it for good and remove its files. */
  close(): Promise<void>;
}

/** Options for startNgircd. */
export interface NgircdOptions {
  /** Serve TLS (a self-signed certificate made for the test) on `port` instead of plain IRC. */
  tls?: boolean;
}

/** Start an ngircd on a free loopback port. */
export async function startNgircd(options: NgircdOptions = {}): Promise<Ngircd> {
  const dir = mkdtempSync(join(tmpdir(), "jarvis-ngircd-"));
  const port = await freePort();
  // With TLS, the plain listener moves to a port of its own that nobody uses.
  const plainPort = options.tls ? await freePort() : port;
  if (options.tls) {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
      ],
      { stdio: "ignore" },
    );
  }
  const conf = join(dir, "ngircd.conf");
  const root = process.getuid?.() === 0;
  writeFileSync(join(dir, "motd"), "jarvis test server\n");
  writeFileSync(
    conf,
    `[Global]
Name = irc.jarvis.test
Info = jarvis test server
Listen = 127.0.0.1
Ports = ${plainPort}
MotdFile = ${join(dir, "motd")}
PidFile = ${join(dir, "ngircd.pid")}
${root ? "ServerUID = nobody\nServerGID = nogroup\n" : ""}
[Limits]
MaxConnectionsIP = 0
MaxNickLength = 30
MaxPenaltyTime = 0
PingTimeout = 120
PongTimeout = 20

[Options]
DNS = no
Ident = no
PAM = no
OperCanUseMode = yes
${options.tls ? `\n[SSL]\nCertFile = ${join(dir, "cert.pem")}\nKeyFile = ${join(dir, "key.pem")}\nPorts = ${port}\n` : ""}`,
  );
  let daemon: Daemon | undefined;
  const start = async (): Promise<void> => {
    daemon = await startDaemon("ngircd", "ngircd", ["-n", "-f", conf], port, 20_000);
  };
  const stop = async (): Promise<void> => {
    const running = daemon;
    daemon = undefined;
    await running?.stop();
  };
  await start();
  return {
    port,
    stop,
    start,
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * jarvis.yml's chat and acl sections for one IRC network on `port` with #ops, where
 * alice!~alice@127.0.0.1 is an operator allowed everything: what most IRC tests start from.
 */
export function ircOperatorConfig(port: number, pace: { burst: number; intervalMs: number }): string {
  return `
chat:
  nick: jarvis
  irc:
    host: 127.0.0.1
    port: ${port}
    tls: false
    channels: ["#ops"]
    pace: {burst: ${pace.burst}, interval_ms: ${pace.intervalMs}}
acl:
  roles:
    operator: {commands: ["*"], hosts: ["*"]}
  people:
    alice: {roles: [operator], identities: ["irc:alice!~alice@127.0.0.1"]}
`;
}
