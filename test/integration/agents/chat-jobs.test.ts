/**
 * The service's wiring with `agents:` configured, against a real nats-server with NKEY users and
 * three agent processes: chat `hosts where` shows them from the node store, `ping` and
 * `run "true" on group=...` come back with every node ok and ACKed, and an identity the ACL
 * refuses gets no job. The CLI's `hosts --where` reads the same store.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { userInfo } from "node:os";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../helpers/net.js";
import { makeJarvisEnv } from "../../helpers/jarvis-env.js";
import type { JarvisEnv } from "../../helpers/jarvis-env.js";
import { openJarvis } from "../../../src/service.js";
import type { Jarvis } from "../../../src/service.js";
import { Dispatcher } from "../../../src/commands/dispatcher.js";
import { startBot } from "../../../src/bot/bot.js";
import type { Bot } from "../../../src/bot/bot.js";
import { startFleet } from "./fleet.js";
import { openSqliteFleetStore } from "../../../src/nodes/fleet-store.js";
import type { Fleet } from "./fleet.js";

const hosts = ["web-1", "web-2", "db-1"];
let fleet: Fleet;
let env: JarvisEnv;
let jarvis: Jarvis;
let bot: Bot;
const input = new PassThrough();
let said = "";

beforeAll(async () => {
  // The fleet's own controller is not started here: the service's is the one reading replies.
  fleet = await startFleet({
    hosts,
    startController: false,
    agentYml: (host) =>
      `groups: [${host.startsWith("web") ? "web" : "db"}]\nfacts: {system: false}\nallow: {operations: [ping, execute, cancel]}`,
  });
  env = makeJarvisEnv({
    extraConfig: [
      "agents:",
      `  nats: {url: "${fleet.nats.url}", nkey_seed_file: jarvis.nk}`,
      "  signing_key_file: jarvis-signing.pem",
      "  job_timeout_seconds: 60",
      "acl:",
      "  roles:",
      "    all: {commands: ['*'], hosts: ['*']}",
      "    ops: {commands: [ping, execute, hosts, job], hosts: ['web-*']}",
      "  people:",
      "    alice: {identities: ['console:alice'], roles: [ops]}",
      // The console's own user: the chat in this test.
      `    operator: {identities: ['console:${userInfo().username}'], roles: [all]}`,
    ].join("\n"),
  });
  writeFileSync(join(env.dir, "jarvis.nk"), fleet.jarvisUser.seed, { mode: 0o600 });
  writeFileSync(join(env.dir, "jarvis-signing.pem"), fleet.signing.privateKeyPem, { mode: 0o600 });
  jarvis = await openJarvis(env.config(), { execute: true, pollMs: 200 });
  const output = new PassThrough();
  output.on("data", (chunk: Buffer) => (said += chunk.toString()));
  bot = await startBot(jarvis, { input, output, interactive: true, log: () => undefined });
  await eventually(
    async () => ((await jarvis.nodes!.list()).filter((n) => n.online).length === 3 ? true : undefined),
    120_000,
    "3 agents online in the service's node store",
  );
}, 180_000);
afterAll(async () => {
  await bot?.close();
  await jarvis?.close();
  await fleet?.close();
});

async function jobCount(): Promise<number> {
  const store = openSqliteFleetStore(env.config().store.path);
  try {
    return (await store.jobs.listJobs({ limit: 100 })).length;
  } finally {
    await store.close();
  }
}

async function chat(line: string, until: RegExp): Promise<string> {
  const from = said.length;
  input.write(`${line}\n`);
  return eventually(async () => (until.test(said.slice(from)) ? said.slice(from) : undefined), 120_000, line);
}

describe("jarvis with agents configured", () => {
  it("shows the agents in chat and on the CLI", async () => {
    const text = await chat("hosts where group=web", /node\(s\)/);
    expect(text).toMatch(/web-1/);
    expect(text).toMatch(/web-2/);
    expect(text).not.toMatch(/db-1/);
    const cli = await env.cli(["hosts", "--where", "group=db"]);
    expect(cli.stdout).toMatch(/db-1/);
    expect(cli.stdout).not.toMatch(/web-1/);
  });

  it("pings and runs commands with a per-node ACK and result", async () => {
    const ping = await chat("ping web-* db-1", /job \S+ ping: done/);
    for (const host of hosts) expect(ping).toMatch(new RegExp(`${host}: ok, ACK`));
    const run = await chat('run "true" on group=web', /job \S+ execute: done/);
    expect(run).toMatch(/web-1: (ok|changed) \(exit 0\), ACK/);
    expect(run).toMatch(/web-2: (ok|changed) \(exit 0\), ACK/);
    expect(run).not.toMatch(/db-1/);
    // The history of the nodes a selector picks now: db-1's ping is there, the web-only run is not.
    const jid = (text: string): string => /job (\S+) /.exec(text)![1]!;
    const history = await chat("jobs where group=db", /job \S+ ping: done/);
    expect(history).toContain(`job ${jid(ping)} ping: done`);
    expect(history).not.toContain(jid(run));
    expect(await chat("jobs web-2", /job \S+ execute: done/)).toContain(`job ${jid(run)} execute: done`);
  });

  it("refuses a job to an identity the ACL does not allow on a host, and sends nothing", async () => {
    const before = await jobCount();
    const dispatcher = new Dispatcher({
      control: jarvis.control,
      acl: jarvis.config.chat.acl,
      log: () => undefined,
      ...(jarvis.nodes ? { nodes: jarvis.nodes } : {}),
      ...(jarvis.jobs ? { jobs: jarvis.jobs } : {}),
    });
    const caller = (identity: string) => ({
      identity,
      label: identity,
      network: "console",
      room: "local",
      origin: "console",
      configuredRoom: true,
      localOperator: false,
    });
    const stranger = await dispatcher.dispatch({
      front: "chat",
      caller: caller("console:mallory"),
      input: { text: "ping web-1" },
    });
    expect(stranger.kind).toBe("refused");
    // alice may ping web-* only: db-1 in the targets refuses the whole job.
    const outside = await dispatcher.dispatch({
      front: "chat",
      caller: caller("console:alice"),
      input: { text: 'run "true" on where group=db' },
    });
    expect(outside).toMatchObject({ kind: "refused", why: "denied" });
    expect(await jobCount()).toBe(before);
    const allowed = await dispatcher.dispatch({
      front: "chat",
      caller: caller("console:alice"),
      input: { text: "ping web-1" },
    });
    expect(allowed).toMatchObject({ kind: "job", job: { state: "done" } });
  });
});
