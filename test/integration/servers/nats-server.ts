/**
 * A real nats-server (Debian's 2.9.10) for tests: JetStream on, its store in a temp directory,
 * client port and monitoring port on loopback. Callers add their own configuration (accounts, NKEY
 * users and permissions, TLS) as text in nats-server's config syntax. `restart()` keeps the port
 * and the JetStream store, for tests where the bus goes away mid-run.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually, freePort } from "../../helpers/net.js";
import { startDaemon } from "../../helpers/daemon.js";
import type { Daemon } from "../../helpers/daemon.js";

/** Options for a test nats-server. */
export interface NatsServerOptions {
  /** Extra config text appended to the generated file (authorization, accounts, tls blocks). */
  config?: string;
  /** JetStream on (the default). */
  jetstream?: boolean;
  /** Files written beside the config before start, by name (what `include` names: 2.9 takes relative paths only). */
  files?: Record<string, string>;
}

/** A running nats-server. */
export interface NatsServer {
  /** `nats://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** The directory holding the config and the JetStream store. */
  dir: string;
  log(): string;
  /** Stop and start again on the same port with the same store. */
  restart(): Promise<void>;
  /** Stop, keeping the port's config and the store for `up()`. */
  down(): Promise<void>;
  /** Start again after `down()`. */
  up(): Promise<void>;
  stop(): Promise<void>;
}

/** Start nats-server and wait until its monitoring endpoint says it is healthy. */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const dir = mkdtempSync(join(tmpdir(), "jarvis-nats-"));
  const port = await freePort();
  const monitor = await freePort();
  const lines = [
    `listen: 127.0.0.1:${port}`,
    `http: 127.0.0.1:${monitor}`,
    `server_name: jarvis-test-${port}`,
    options.jetstream === false ? "" : `jetstream { store_dir: "${join(dir, "js")}" }`,
    options.config ?? "",
  ];
  for (const [name, text] of Object.entries(options.files ?? {})) writeFileSync(join(dir, name), text);
  const configFile = join(dir, "nats.conf");
  writeFileSync(configFile, lines.join("\n") + "\n");
  const start = (): Promise<Daemon> =>
    startDaemon("nats-server", "/usr/sbin/nats-server", ["-c", configFile], () =>
      eventually(
        async () => {
          const res = await fetch(`http://127.0.0.1:${monitor}/healthz`).catch((err: unknown) => err);
          return res instanceof Response && res.ok ? true : undefined;
        },
        30_000,
        "nats-server healthy",
      ),
    );
  let daemon = await start();
  const down = (): Promise<void> => daemon.stop();
  const up = async (): Promise<void> => {
    daemon = await start();
  };
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    dir,
    log: () => daemon.log(),
    async restart() {
      await down();
      await up();
    },
    down,
    up,
    async stop() {
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
