/**
 * agent:install end to end: `jarvis run deploy` on a local-provider host provisions the node's
 * NATS user (authorization include + SIGHUP to a real nats-server), copies the bundled agent over
 * SSH, starts it and waits for its heartbeat; jarvis's job controller then sees it online with
 * facts and gets a ping answered. Redeploy restarts the agent; destroy stops it, the node goes
 * offline and its NATS user is revoked, so its seed no longer connects.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, nkeyAuthenticator } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { makeJarvisEnv } from "../../helpers/jarvis-env.js";
import type { JarvisEnv } from "../../helpers/jarvis-env.js";
import { eventually } from "../../helpers/net.js";
import { startNatsServer } from "../servers/nats-server.js";
import type { NatsServer } from "../servers/nats-server.js";
import { runStep } from "../workers/run-step.js";
import { generateSigningKeys, loadPrivateKey } from "../../../src/agent/signing.js";
import { natsAuthorization, newNkeyUser } from "../../../src/nodes/nats-authorization.js";
import { openSqliteFleetStore } from "../../../src/nodes/fleet-store.js";
import type { FleetStore } from "../../../src/nodes/fleet-store.js";
import { AgentBus } from "../../../src/jobs/agent-bus.js";
import { JobController } from "../../../src/jobs/job-controller.js";

const host = "heimdall";
const dir = mkdtempSync(join(tmpdir(), "jarvis-agent-install-"));
const jarvisUser = newNkeyUser();
let nats: NatsServer;
let env: JarvisEnv;
let store: FleetStore;
let nc: NatsConnection;
let controller: JobController;
let design: string;

function agentPid(): number | undefined {
  const file = join(env.dir, ".state/local", host, "home/jarvis-agent/agent.pid");
  return existsSync(file) ? Number(readFileSync(file, "utf8")) : undefined;
}

/** A zombie (not reaped yet) has stopped running. */
function running(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}

function seedFile(): string {
  return join(env.dir, ".state/agents", `${host}.nk`);
}

function publicKey(): string {
  return readFileSync(join(env.dir, ".state/agents", `${host}.pub`), "utf8").trim();
}

/** A connection as the node's NATS user: what a host keeping its seed could do. */
async function connectAs(seed: string): Promise<NatsConnection> {
  return connect({
    servers: nats.url,
    authenticator: nkeyAuthenticator(new TextEncoder().encode(seed)),
    reconnect: false,
  });
}

async function ping(): Promise<string[][]> {
  const job = await controller.submit({
    operation: { kind: "ping" },
    hosts: [host],
    targets: { words: [host] },
    options: { timeoutMs: 20_000, ttlMs: 60_000 },
    requester: "test",
  });
  await controller.waitDone(job.id);
  return (await controller.get(job.id)).nodes.map((n) => [n.host, n.state, n.message ?? ""]);
}

beforeAll(async () => {
  writeFileSync(join(dir, "jarvis.nk"), jarvisUser.seed, { mode: 0o600 });
  writeFileSync(join(dir, "jarvis-signing.pem"), generateSigningKeys().privateKeyPem, { mode: 0o600 });
  nats = await startNatsServer({
    // Only jarvis may connect until agent:install adds the node's user.
    files: { "jarvis-agents.conf": natsAuthorization(jarvisUser.publicKey, new Map()) },
    config: `pid_file: "${join(dir, "nats.pid")}"\ninclude "jarvis-agents.conf"`,
  });
  env = makeJarvisEnv({
    extraConfig: [
      "modules:",
      "  agent:",
      "    with:",
      `      nats: {url: "${nats.url}", nkey_seed_file: ${join(dir, "jarvis.nk")}}`,
      `      signing_key_file: ${join(dir, "jarvis-signing.pem")}`,
      `      authorization_file: ${join(nats.dir, "jarvis-agents.conf")}`,
      `      nats_reload: {pid_file: ${join(dir, "nats.pid")}}`,
      "      heartbeat_seconds: 1",
      "      online_timeout: 120",
    ].join("\n"),
  });
  design = env.write(
    "heimdall.yml",
    `instance: {hostname: ${host}, provider: local}\nagent: {groups: [edge], facts: {datacenter: asgard}}\n`,
  );
  store = openSqliteFleetStore(join(dir, "fleet.sqlite"));
  nc = await connect({
    servers: nats.url,
    authenticator: nkeyAuthenticator(new TextEncoder().encode(jarvisUser.seed)),
  });
  controller = new JobController({
    bus: await AgentBus.open(nc),
    nodes: store.nodes,
    jobs: store.jobs,
    signingKey: loadPrivateKey(readFileSync(join(dir, "jarvis-signing.pem"), "utf8")),
    log: () => undefined,
    sweepMs: 200,
    resultGraceMs: 2000,
  });
  await controller.start();
});

afterAll(async () => {
  if (env)
    await runStep("providers/local-step", "delete", { instance: { hostname: host } }, { cwd: env.dir });
  await controller?.stop();
  await nc?.close();
  await store?.close();
  await nats?.stop();
});

describe("agent:install through deploy.yml on a local-provider host", () => {
  it("plans the NATS user and the agent's files without touching anything", async () => {
    const r = await env.cli(["run", "deploy", design, "--plan", "--json"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const plan = (
      JSON.parse(r.stdout) as { plan: { step: string; action: string; target: string; after: unknown }[] }
    ).plan;
    const entries = plan.filter((e) => e.step.startsWith("agent:install"));
    expect(entries.map((e) => [e.action, e.target])).toEqual([
      ["create", `NATS user of ${host}`],
      ["update", `agent on ${host}`],
    ]);
    expect(JSON.stringify(entries[1]!.after)).toContain("$HOME/jarvis-agent/jarvis-agent.mjs");
    expect(existsSync(join(env.dir, ".state/agents", `${host}.nk`))).toBe(false);
  });

  it("deploys, and the agent comes online with facts and answers a ping", async () => {
    const r = await env.cli(["run", "deploy", design]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const seed = readFileSync(join(env.dir, ".state/agents", `${host}.nk`), "utf8").trim();
    expect(seed).toMatch(/^SU/);
    const clip = (await env.cli(["clipboard", host, "--json"])).stdout;
    expect(r.stdout + r.stderr + clip).not.toContain(seed);
    const parsed = JSON.parse(clip) as { clipboard?: Record<string, unknown> } & Record<string, unknown>;
    const agent = (parsed.clipboard ?? parsed).agent as Record<string, unknown>;
    expect(agent).toMatchObject({ installed: true, changed: true, node: host, groups: ["edge"] });
    expect((agent.nkey as { seed_file: string }).seed_file).toBe(
      join(env.dir, ".state/agents", `${host}.nk`),
    );
    expect(readFileSync(join(nats.dir, "jarvis-agents.conf"), "utf8")).toContain(
      readFileSync(join(env.dir, ".state/agents", `${host}.pub`), "utf8").trim(),
    );

    const node = await eventually(
      async () => {
        const n = await store.nodes.get(host);
        return n?.online && n.facts.datacenter ? n : undefined;
      },
      60_000,
      "the node online with its facts",
    );
    expect(node.groups).toEqual(["edge"]);
    expect(node.facts.datacenter).toBe("asgard");
    expect(node.facts.os).toMatchObject({ family: "debian" });
    expect(await ping()).toEqual([[host, "ok", "pong"]]);
  });

  it("restarts the agent on redeploy", async () => {
    const before = agentPid();
    const r = await env.cli(["run", "redeploy", design]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(agentPid()).not.toBe(before);
    expect(await ping()).toEqual([[host, "ok", "pong"]]);
  });

  it("plans the revocation of the node's NATS user on destroy", async () => {
    const r = await env.cli(["run", "destroy", design, "--plan", "--json"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const plan = (
      JSON.parse(r.stdout) as { plan: { step: string; action: string; target: string; before: unknown }[] }
    ).plan;
    const revoke = plan.filter((e) => e.step.startsWith("agent:revoke"));
    expect(revoke.map((e) => [e.action, e.target])).toEqual([["delete", `NATS user of ${host}`]]);
    expect(revoke[0]!.before).toMatchObject({ public_key: publicKey() });
    expect(existsSync(seedFile())).toBe(true);
  });

  it("stops the agent on destroy, the node goes offline and its seed no longer connects", async () => {
    const pid = agentPid()!;
    const seed = readFileSync(seedFile(), "utf8").trim();
    const key = publicKey();
    // The seed connects while the node is provisioned: the refusal below is the revocation's.
    await (await connectAs(seed)).close();
    const r = await env.cli(["run", "destroy", design]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(running(pid)).toBe(false);
    await eventually(
      async () => ((await store.nodes.get(host))?.online === false ? true : undefined),
      60_000,
      "the node offline",
    );
    expect(existsSync(seedFile())).toBe(false);
    expect(readFileSync(join(nats.dir, "jarvis-agents.conf"), "utf8")).not.toContain(key);
    await expect(connectAs(seed)).rejects.toThrow(/[Aa]uthorization/);

    // Destroying again passes: nothing is left to revoke, and nats-server is not asked again.
    const again = await env.cli(["run", "destroy", design]);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    const log = await env.cli(["log", host]);
    expect(log.stdout).toContain(`agent: ${host} has no NATS user`);
    await expect(connectAs(seed)).rejects.toThrow(/[Aa]uthorization/);
  });
});

describe("agent:install when the agent never comes online", () => {
  const lost = "ratatosk";
  afterAll(async () => {
    if (env)
      await runStep("providers/local-step", "delete", { instance: { hostname: lost } }, { cwd: env.dir });
  });

  it("fails with E_AGENT_OFFLINE and the agent's last log lines", async () => {
    const design = { instance: { hostname: lost, provider: "local" } };
    const deployed = await runStep("providers/local-step", "deploy", design, { cwd: env.dir });
    expect(deployed.code, deployed.stderr).toBe(0);
    const ready = await runStep("workers/ssh", "wait", deployed.clipboard!, { cwd: env.dir });
    expect(ready.code, ready.stderr).toBe(0);
    const params = {
      ...env.config().modules.agent!.with,
      // nats-server is never told about the new user, so the agent is refused.
      authorization_file: join(dir, "not-included.conf"),
      online_timeout: 30,
    };
    const r = await runStep("workers/agent", "install", ready.clipboard!, { cwd: env.dir, params });
    expect(r.code).toBe(75);
    expect(r.lastLine).toMatch(
      new RegExp(`agent: ${lost} sent no heartbeat within 30s; its log: .*[Aa]uthorization.*; check that`),
    );
  });
});
