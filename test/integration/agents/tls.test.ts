/**
 * Agents and jarvis over TLS (mutual: nats-server verifies client certificates too) to a real
 * nats-server, with certificates the test makes with openssl: facts arrive and a ping is
 * answered; a wrong CA is named as the problem, on jarvis's side and in the agent's log.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliPath } from "../../helpers/jarvis-env.js";
import { eventually } from "../../helpers/net.js";
import { makeTestPki, natsTlsBlock } from "../../helpers/test-pki.js";
import { startNatsServer } from "../servers/nats-server.js";
import type { NatsServer } from "../servers/nats-server.js";
import { generateSigningKeys } from "../../../src/agent/signing.js";
import { natsAuthorization, newNkeyUser } from "../../../src/nodes/nats-authorization.js";
import { openSqliteFleetStore } from "../../../src/nodes/fleet-store.js";
import type { FleetStore } from "../../../src/nodes/fleet-store.js";
import { openAgentsConnection } from "../../../src/jobs/agents-connection.js";
import type { AgentsConnection } from "../../../src/jobs/agents-connection.js";
import type { AgentsConfig } from "../../../src/nodes/agents-config.js";

const dir = mkdtempSync(join(tmpdir(), "jarvis-tls-"));
const pki = join(dir, "pki");
const jarvisUser = newNkeyUser();
const agentUser = newNkeyUser();
const signing = generateSigningKeys();
let nats: NatsServer;
let store: FleetStore;
let jarvis: AgentsConnection;
const agents: ChildProcess[] = [];

function agentsConfig(ca: string): AgentsConfig {
  return {
    natsUrls: [nats.url],
    nkeySeedFile: join(dir, "jarvis.nk"),
    tls: { ca: join(pki, ca), cert: join(pki, "client.pem"), key: join(pki, "client.key") },
    signingKeyFile: join(dir, "jarvis-signing.pem"),
    jobTtlMs: 60_000,
    jobTimeoutMs: 10_000,
    jobLeaseMs: 15_000,
  };
}

/** `jarvis agent` as its own process; its output is collected for the log assertions. */
function startAgent(ca: string): { log: () => string } {
  const agentDir = mkdtempSync(join(dir, "agent-"));
  writeFileSync(join(agentDir, "agent.nk"), agentUser.seed, { mode: 0o600 });
  writeFileSync(
    join(agentDir, "agent.yml"),
    [
      "node: web-1",
      `nats: {url: "${nats.url}", nkey_seed_file: agent.nk, tls: {ca: ${join(pki, ca)}, cert: ${join(pki, "client.pem")}, key: ${join(pki, "client.key")}}}`,
      `jarvis_public_key: ${signing.publicKey}`,
      "state_dir: state",
      "heartbeat_seconds: 0.5",
      "facts: {static: {transport: tls}, system: false}",
    ].join("\n"),
  );
  const child = spawn(process.execPath, [cliPath, "agent", "--config", join(agentDir, "agent.yml")], {
    cwd: agentDir,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stderr.on("data", (c: Buffer) => (log += c.toString()));
  child.stdout.on("data", (c: Buffer) => (log += c.toString()));
  agents.push(child);
  return { log: () => log };
}

beforeAll(async () => {
  makeTestPki(pki);
  writeFileSync(join(dir, "jarvis.nk"), jarvisUser.seed, { mode: 0o600 });
  writeFileSync(join(dir, "jarvis-signing.pem"), signing.privateKeyPem, { mode: 0o600 });
  nats = await startNatsServer({
    config: [
      natsTlsBlock(pki),
      natsAuthorization(jarvisUser.publicKey, new Map([["web-1", agentUser.publicKey]])),
    ].join("\n"),
  });
  store = openSqliteFleetStore(join(dir, "jarvis.sqlite"));
});

afterAll(async () => {
  for (const child of agents) child.kill("SIGTERM");
  await jarvis?.close();
  await store?.close();
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("TLS between agents, jarvis and nats-server", () => {
  it("refuses jarvis's connection with a wrong CA, naming the CA file", async () => {
    const refused = openAgentsConnection(agentsConfig("other-ca.pem"), store, () => undefined);
    await expect(refused).rejects.toMatchObject({ code: "E_AGENTS_CONNECT" });
    await expect(refused).rejects.toThrow(
      /nats-server's TLS certificate is not signed by the CA in .*other-ca\.pem/,
    );
  });

  it("an agent with a wrong CA says so in its log and keeps trying", async () => {
    const agent = startAgent("other-ca.pem");
    await eventually(
      async () => (/not signed by the CA in .*other-ca\.pem.*retrying/.test(agent.log()) ? true : undefined),
      60_000,
      "the agent's TLS complaint",
    );
    agents.pop()!.kill("SIGTERM");
  });

  it("an agent reports facts and answers a ping over mutual TLS", async () => {
    jarvis = await openAgentsConnection(agentsConfig("ca.pem"), store, () => undefined);
    startAgent("ca.pem");
    const node = await eventually(
      async () => {
        const n = await store.nodes.get("web-1");
        return n?.online && n.facts.transport ? n : undefined;
      },
      60_000,
      "web-1 online with its facts",
    );
    expect(node.facts.transport).toBe("tls");
    const job = await jarvis.controller.submit({
      operation: { kind: "ping" },
      hosts: ["web-1"],
      targets: { words: ["web-1"] },
      options: { timeoutMs: 10_000, ttlMs: 60_000 },
      requester: "test",
    });
    expect((await jarvis.controller.waitDone(job.id)).state).toBe("done");
    const { nodes } = await jarvis.controller.get(job.id);
    expect(nodes.map((n) => [n.host, n.state, n.message])).toEqual([["web-1", "ok", "pong"]]);
  });
});
