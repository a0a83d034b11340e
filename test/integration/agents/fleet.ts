/**
 * A fleet for tests: a real nats-server with NKEY users and per-agent permissions, agents as
 * separate `jarvis agent` processes, and jarvis's side (node and job stores on a temp SQLite file,
 * the job controller) in the test process.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, nkeyAuthenticator } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { startNatsServer } from "../servers/nats-server.js";
import type { NatsServer } from "../servers/nats-server.js";
import { cliPath } from "../../helpers/jarvis-env.js";
import { generateSigningKeys, loadPrivateKey } from "../../../src/agent/signing.js";
import { natsAuthorization, newNkeyUser } from "../../../src/nodes/nats-authorization.js";
import type { NkeyUser } from "../../../src/nodes/nats-authorization.js";
import { openSqliteFleetStore } from "../../../src/nodes/fleet-store.js";
import type { FleetStore } from "../../../src/nodes/fleet-store.js";
import { AgentBus } from "../../../src/jobs/agent-bus.js";
import { JobController } from "../../../src/jobs/job-controller.js";

export interface AgentProcess {
  host: string;
  dir: string;
  child: ChildProcess | undefined;
  log(): string;
  start(): void;
  /** SIGKILL: the agent dies without a word. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export interface Fleet {
  nats: NatsServer;
  dir: string;
  signing: { privateKeyPem: string; publicKey: string };
  users: Map<string, NkeyUser>;
  jarvisUser: NkeyUser;
  store: FleetStore;
  nc: NatsConnection;
  bus: AgentBus;
  controller: JobController;
  agents: Map<string, AgentProcess>;
  /** A NATS connection as one agent (its NKEY), for the permission tests. */
  connectAs(host: string): Promise<NatsConnection>;
  close(): Promise<void>;
}

export interface FleetOptions {
  hosts: string[];
  /** Extra agent.yml text per host (allow lists, facts). */
  agentYml?: (host: string, dir: string) => string;
  /** Start these agents now (default: all). */
  startNow?: string[];
  /** Start the fleet's job controller (default true); false when a jarvis service reads the replies. */
  startController?: boolean;
}

export async function startFleet(options: FleetOptions): Promise<Fleet> {
  const dir = mkdtempSync(join(tmpdir(), "jarvis-fleet-"));
  const signing = generateSigningKeys();
  const jarvisUser = newNkeyUser();
  const users = new Map(options.hosts.map((h) => [h, newNkeyUser()] as const));
  const nats = await startNatsServer({
    config: natsAuthorization(jarvisUser.publicKey, new Map([...users].map(([h, u]) => [h, u.publicKey]))),
  });
  const store = openSqliteFleetStore(join(dir, "jarvis.sqlite"));
  const nc = await connect({
    servers: nats.url,
    authenticator: nkeyAuthenticator(new TextEncoder().encode(jarvisUser.seed)),
    // As src/jobs/agents-connection.ts connects.
    noAsyncTraces: true,
  });
  const bus = await AgentBus.open(nc);
  const logs: string[] = [];
  const controller = new JobController({
    bus,
    nodes: store.nodes,
    jobs: store.jobs,
    signingKey: loadPrivateKey(signing.privateKeyPem),
    log: (line) => logs.push(line),
    sweepMs: 200,
    resultGraceMs: 2000,
  });
  if (options.startController !== false) await controller.start();
  const agents = new Map<string, AgentProcess>();
  for (const host of options.hosts) {
    const agentDir = join(dir, host);
    mkdirSync(agentDir);
    writeFileSync(join(agentDir, "agent.nk"), users.get(host)!.seed, { mode: 0o600 });
    writeFileSync(
      join(agentDir, "agent.yml"),
      [
        `node: ${host}`,
        `nats: {url: "${nats.url}", nkey_seed_file: agent.nk}`,
        `jarvis_public_key: ${signing.publicKey}`,
        `state_dir: state`,
        `heartbeat_seconds: 0.5`,
        options.agentYml?.(host, agentDir) ?? "",
      ].join("\n"),
    );
    agents.set(host, agentProcess(host, agentDir));
  }
  for (const host of options.startNow ?? options.hosts) agents.get(host)!.start();
  return {
    nats,
    dir,
    signing,
    users,
    jarvisUser,
    store,
    nc,
    bus,
    controller,
    agents,
    connectAs: (host) =>
      connect({
        servers: nats.url,
        authenticator: nkeyAuthenticator(new TextEncoder().encode(users.get(host)!.seed)),
      }),
    async close() {
      await Promise.all([...agents.values()].map((a) => a.stop()));
      await controller.stop();
      await nc.close();
      await store.close();
      await nats.stop();
    },
  };
}

function agentProcess(host: string, dir: string): AgentProcess {
  let log = "";
  const agent: AgentProcess = {
    host,
    dir,
    child: undefined,
    log: () => log,
    start() {
      // Its own folder as working directory: tests make a node fail with a file there.
      const child = spawn(process.execPath, [cliPath, "agent", "--config", join(dir, "agent.yml")], {
        cwd: dir,
        stdio: ["ignore", "pipe", "pipe"],
      });
      const keep = (c: Buffer): void => void (log = (log + c.toString()).slice(-8000));
      child.stdout.on("data", keep);
      child.stderr.on("data", keep);
      agent.child = child;
    },
    async kill() {
      await signal(agent.child, "SIGKILL");
      agent.child = undefined;
    },
    async stop() {
      await signal(agent.child, "SIGTERM");
      agent.child = undefined;
    },
  };
  return agent;
}

async function signal(child: ChildProcess | undefined, sig: NodeJS.Signals): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill(sig);
  await exited;
}
