/**
 * Agents' events and jarvis.yml's rules, against a real nats-server with NKEY users and agent
 * processes: a burst of writes under a watched folder starts the rule's pipeline once for that
 * node (and a restart of jarvis does not start it again), a probe reporting service_down fires
 * its rule, a rule's `where` leaves other nodes alone, chat `events` lists what came, and an
 * event published with another node's credentials is refused by NATS.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { userInfo } from "node:os";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../helpers/net.js";
import { makeJarvisEnv } from "../../helpers/jarvis-env.js";
import type { JarvisEnv } from "../../helpers/jarvis-env.js";
import { openJarvis } from "../../../src/service.js";
import type { Jarvis } from "../../../src/service.js";
import { startBot } from "../../../src/bot/bot.js";
import type { Bot } from "../../../src/bot/bot.js";
import { subjects } from "../../../src/agent/protocol.js";
import type { AgentEvent } from "../../../src/agent/protocol.js";
import { startApiJarvis } from "../../helpers/api-jarvis.js";
import { startFleet } from "./fleet.js";
import type { Fleet } from "./fleet.js";

const hosts = ["web-1", "web-2", "db-1"];
const ROOM = "console:dm:console";
let fleet: Fleet;
let env: JarvisEnv;
let jarvis: Jarvis;
let bot: Bot;
const input = new PassThrough();
let said = "";
const announced: string[] = [];

async function open(): Promise<void> {
  jarvis = await openJarvis(env.config(), { execute: true, pollMs: 200 });
  const output = new PassThrough();
  output.on("data", (chunk: Buffer) => (said += chunk.toString()));
  bot = await startBot(jarvis, { input, output, interactive: true, log: () => undefined });
  jarvis.rules?.onAnnounce((room, line) => {
    announced.push(`${room} ${line}`);
    bot.announce(room, line);
  });
}

async function close(): Promise<void> {
  await bot?.close();
  await jarvis?.close();
}

beforeAll(async () => {
  fleet = await startFleet({
    hosts,
    startController: false,
    agentYml: (host, dir) =>
      [
        `groups: [${host.startsWith("web") ? "web" : "db"}]`,
        "facts: {system: false}",
        `watch: [${join(dir, "nginx")}]`,
        "watch_settle_seconds: 0.3",
        "probes:",
        `  - {name: nginx, command: [test, "!", -e, ${join(dir, "nginx-down")}], interval_seconds: 0.3, event: service_down}`,
      ].join("\n"),
  });
  for (const host of hosts) mkdirSync(join(fleet.dir, host, "nginx"));
  env = makeJarvisEnv({
    pipelines: { reconfigure: "steps:\n  - ok:reconfigure\n" },
    extraConfig: [
      "agents:",
      `  nats: {url: "${fleet.nats.url}", nkey_seed_file: jarvis.nk}`,
      "  signing_key_file: jarvis-signing.pem",
      "rules:",
      "  - name: nginx-changed",
      `    on: {event: file_changed, path: "${fleet.dir}/*/nginx/*", where: "group=web"}`,
      "    run: reconfigure",
      '    source: "{host}.yml"',
      "    debounce: 1h",
      `    announce: ["${ROOM}"]`,
      "  - name: nginx-down",
      "    on: {event: service_down, data: {probe: nginx}}",
      "    run: reconfigure",
      '    source: "{host}.yml"',
      "    debounce: 1h",
      `    announce: ["${ROOM}"]`,
      // No role for rule:db-changed: the ACL refuses its firings.
      "  - name: db-changed",
      '    on: {event: file_changed, where: "group=db"}',
      "    run: reconfigure",
      '    source: "{host}.yml"',
      `    announce: ["${ROOM}"]`,
      "acl:",
      "  roles:",
      "    all: {commands: ['*'], hosts: ['*']}",
      "    reconfigure: {commands: [run], hosts: ['web-*', 'db-*']}",
      "  people:",
      "    rules: {identities: ['rule:nginx-changed', 'rule:nginx-down'], roles: [reconfigure]}",
      `    operator: {identities: ['console:${userInfo().username}'], roles: [all]}`,
    ].join("\n"),
  });
  mkdirSync(join(env.dir, "designs"));
  for (const host of hosts)
    writeFileSync(join(env.dir, "designs", `${host}.yml`), `instance: {hostname: ${host}}\n`);
  writeFileSync(join(env.dir, "jarvis.nk"), fleet.jarvisUser.seed, { mode: 0o600 });
  writeFileSync(join(env.dir, "jarvis-signing.pem"), fleet.signing.privateKeyPem, { mode: 0o600 });
  await open();
  await eventually(
    async () => ((await jarvis.nodes!.list()).filter((n) => n.online).length === 3 ? true : undefined),
    120_000,
    "3 agents online in the service's node store",
  );
}, 180_000);
afterAll(async () => {
  await close();
  await fleet?.close();
});

async function runsOf(host: string) {
  return jarvis.store.listRuns({ host });
}

/** Wait until jarvis has kept an event from `host` that `pick` recognises. */
async function keptEvent(
  host: string,
  pick: (e: { kind: string; data: Record<string, unknown> }) => boolean,
) {
  return eventually(
    async () => (await jarvis.store.listNodeEvents({ host, limit: 100 })).find(pick),
    120_000,
    `an event from ${host}`,
  );
}

async function chat(line: string, until: RegExp): Promise<string> {
  const from = said.length;
  input.write(`${line}\n`);
  return eventually(async () => (until.test(said.slice(from)) ? said.slice(from) : undefined), 120_000, line);
}

describe("rules over agents' events", () => {
  it("runs the rule's pipeline once for a burst of writes under a watched path, on that node only", async () => {
    const conf = join(fleet.dir, "web-1", "nginx", "nginx.conf");
    for (let i = 0; i < 20; i++) writeFileSync(conf, `worker_processes ${i};\n`);
    const run = await eventually(
      async () => (await runsOf("web-1")).find((r) => r.state === "succeeded"),
      120_000,
      "the reconfigure run of web-1",
    );
    expect(run).toMatchObject({ pipeline: "reconfigure", requestedBy: "rule:nginx-changed" });
    await keptEvent("web-1", (e) => e.kind === "file_changed" && e.data.path === conf);
    // A second burst within the debounce is kept as an event, and starts nothing.
    writeFileSync(join(fleet.dir, "web-1", "nginx", "other.conf"), "x\n");
    await keptEvent("web-1", (e) => String(e.data.path).endsWith("other.conf"));
    expect(await runsOf("web-1")).toHaveLength(1);
    expect(announced.join("\n")).toMatch(
      new RegExp(
        `rule nginx-changed: file_changed ${conf} on web-1: reconfigure started \\(run ${run.id}\\)`,
      ),
    );
    expect(said).toMatch(/rule nginx-changed: file_changed .* on web-1: reconfigure started/);
    const audit = await jarvis.store.listAudit(50);
    expect(audit.filter((a) => a.identity === "rule:nginx-changed")).toEqual([
      expect.objectContaining({ decision: "allowed", runId: run.id }),
    ]);
  });

  it("leaves a node its rule's where does not select alone, and refuses a rule the ACL does not allow", async () => {
    writeFileSync(join(fleet.dir, "db-1", "nginx", "nginx.conf"), "x\n");
    await keptEvent("db-1", (e) => e.kind === "file_changed");
    // db-changed does select db-1, and the ACL refuses it: audited and announced, nothing runs.
    const refusal = await eventually(
      async () => (await jarvis.store.listAudit(100)).find((a) => a.identity === "rule:db-changed"),
      120_000,
      "the audit of db-changed's firing",
    );
    expect(refusal).toMatchObject({ decision: "denied", runId: null });
    expect(refusal.reason).toMatch(/run on db-1 is not allowed/);
    expect(announced.join("\n")).toMatch(/rule db-changed: file_changed .* on db-1: reconfigure refused/);
    expect(await runsOf("db-1")).toHaveLength(0);
  });

  it("fires a rule when a probe reports service_down", async () => {
    writeFileSync(join(fleet.dir, "web-2", "nginx-down"), "");
    const event = await keptEvent("web-2", (e) => e.kind === "service_down");
    expect(event.data).toMatchObject({ probe: "nginx", exit_code: 1 });
    const run = await eventually(
      async () => (await runsOf("web-2")).find((r) => r.state === "succeeded"),
      120_000,
      "the reconfigure run of web-2",
    );
    expect(run.requestedBy).toBe("rule:nginx-down");
    rmSync(join(fleet.dir, "web-2", "nginx-down"));
  });

  it("does not fire again after a restart for events that came while jarvis was down", async () => {
    await close();
    const whileDown = join(fleet.dir, "web-1", "nginx", "while-down.conf");
    writeFileSync(whileDown, "x\n");
    // The agent publishes it to the stream, where the restarted jarvis reads it.
    await open();
    await keptEvent("web-1", (e) => e.data.path === whileDown);
    expect(await runsOf("web-1")).toHaveLength(1);
  });

  it("lists a node's events in chat", async () => {
    const text = await chat("events web-2", /service_down/);
    expect(text).toMatch(/web-2/);
  });

  it("answers a node's events on the API", async () => {
    // A second jarvis on the same store, without agents: it reads what the first one kept.
    const secret = "reader-secret-0123456789abcdef";
    const api = await startApiJarvis({
      store: `store:\n  path: ${env.config().store.path}`,
      apiExtra: 'tokens:\n  reader: "${TOKEN_READER}"',
      processEnv: { TOKEN_READER: secret },
      extraConfig: [
        "acl:",
        "  roles:",
        "    reader: {commands: [events]}",
        "  people:",
        "    reader: {roles: [reader], identities: ['api:reader']}",
      ].join("\n"),
    });
    const call = (path: string) => api.call(path, { headers: { authorization: `Bearer ${secret}` } });
    try {
      const response = await call("/nodes/web-2/events?limit=100");
      expect(response.status).toBe(200);
      const body = (await response.json()) as { host: string; events: { kind: string; data: unknown }[] };
      expect(body.host).toBe("web-2");
      expect(body.events).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            kind: "service_down",
            data: expect.objectContaining({ probe: "nginx" }),
          }),
        ]),
      );
      expect((await call("/nodes/web-2/events?limit=0")).status).toBe(400);
    } finally {
      await api.stop();
    }
  });

  it("refuses an event published with another node's credentials", async () => {
    const web2 = await fleet.connectAs("web-2");
    const statusErrors: string[] = [];
    void (async () => {
      for await (const s of web2.status()) if (s.type === "error") statusErrors.push(s.error.message);
    })();
    const forged: AgentEvent = {
      id: "forged-event-0001",
      node: "web-1",
      kind: "file_changed",
      at: Date.now(),
      data: { path: join(fleet.dir, "web-1", "nginx", "forged.conf") },
    };
    web2.publish(subjects.event("web-1"), JSON.stringify(forged)); // denied by the server
    // On its own subject, but naming web-1: jarvis refuses it.
    web2.publish(subjects.event("web-2"), JSON.stringify({ ...forged, id: "forged-event-0002" }));
    await web2.flush();
    await eventually(() => (statusErrors.length > 0 ? true : undefined), 30_000, "a publish refusal");
    expect(statusErrors.join("\n")).toMatch(/permissions violation for publish/i);
    // A real event from web-2 after the forged ones: once it is kept, the forged ones were read.
    writeFileSync(join(fleet.dir, "web-2", "nginx", "after-forgery.conf"), "x\n");
    await keptEvent("web-2", (e) => String(e.data.path).endsWith("after-forgery.conf"));
    const all = await jarvis.store.listNodeEvents({ limit: 1000 });
    expect(all.filter((e) => e.id.startsWith("forged-"))).toHaveLength(0);
    await web2.close();
  });
});
