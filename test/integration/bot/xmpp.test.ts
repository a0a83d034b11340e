/**
 * The chat front on a real prosody: MUC room with real JIDs and direct chats, with the real
 * service executing runs. A listed operator runs the demo pipeline and follows it; an unlisted
 * account is refused; a direct message works bare; after a server restart the bot rejoins.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { openJarvis } from "../../../src/service.js";
import type { Jarvis } from "../../../src/service.js";
import { startBot } from "../../../src/bot/bot.js";
import type { Bot } from "../../../src/bot/bot.js";
import type { ConnectionState } from "../../../src/bot/connection-state.js";
import { makeJarvisEnv, repoRoot } from "../../helpers/jarvis-env.js";
import { eventually } from "../../helpers/net.js";
import { startProsody } from "../servers/prosody.js";
import type { Prosody } from "../servers/prosody.js";
import { connectXmppOperator } from "./xmpp-operator.js";
import type { XmppOperator } from "./xmpp-operator.js";

const loki = join(repoRoot, "examples/loki.yml");
const room = "ops@conference.localhost";
let server: Prosody;
let jarvis: Jarvis;
let bot: Bot;
let alice: XmppOperator;
const states: ConnectionState[] = [];

beforeAll(async () => {
  server = await startProsody();
  await server.register("jarvis", "bot-secret");
  await server.register("alice", "alice-secret");
  await server.register("bob", "bob-secret");
  const env = makeJarvisEnv({
    extraConfig: `
chat:
  nick: jarvis
  xmpp:
    service: ${server.service}
    domain: localhost
    username: jarvis
    password: \${TEST_XMPP_PASSWORD}
    rooms: ["${room}"]
    pace: {burst: 10, interval_ms: 50}
acl:
  roles:
    operator: {commands: ["*"]}
  people:
    alice: {roles: [operator], identities: ["xmpp:alice@localhost"]}
`,
  });
  process.env.TEST_XMPP_PASSWORD = "bot-secret";
  jarvis = await openJarvis(env.config(), { execute: true, pollMs: 200 });
  bot = await startBot(jarvis, { log: () => undefined });
  bot.adapters.get("xmpp")!.states.on((s) => states.push(s));
  expect(bot.adapters.get("xmpp")!.state.kind).toBe("connected");
  alice = await connectXmppOperator(server.service, "alice", "alice-secret", [room]);
});

afterAll(async () => {
  await alice?.close();
  await bot?.close();
  await jarvis?.close();
  await server?.close();
  delete process.env.TEST_XMPP_PASSWORD;
});

describe("jarvis on XMPP (real prosody)", () => {
  it("runs the demo pipeline from a room, identified by the real JID the room shows", async () => {
    const from = alice.seen.length;
    await alice.groupchat(room, `jarvis: run demo ${loki}`);
    await alice.waitFor(new RegExp(`^${room}/jarvis: alice: loki: demo queued as run`), from);
    await alice.waitFor(new RegExp(`^${room}/jarvis: loki: 1/5 hello:greet$`), from);
    await alice.waitFor(new RegExp(`^${room}/jarvis: loki: demo succeeded`), from, 60_000);
    const audit = await jarvis.store.listAudit(20);
    expect(audit.find((a) => a.command.startsWith("run demo"))).toMatchObject({
      identity: "xmpp:alice@localhost",
      network: "xmpp",
      room,
      decision: "allowed",
    });
  });

  it("answers bare commands in a direct chat", async () => {
    const from = alice.seen.length;
    await alice.chat("jarvis@localhost", "status loki");
    await alice.waitFor(/^jarvis@localhost\/jarvis: loki: demo succeeded \(run /, from);
  });

  it("refuses an unlisted account, in the room and directly", async () => {
    const bob = await connectXmppOperator(server.service, "bob", "bob-secret", [room], "alice_lookalike");
    try {
      await bob.groupchat(room, "jarvis: destroy loki");
      await bob.waitFor(
        new RegExp(
          `^${room}/jarvis: alice_lookalike: denied: destroy on loki is not allowed: it needs role operator; xmpp:bob@localhost has no role`,
        ),
      );
      // A direct chat is not a configured room: even read-only commands need a listed identity.
      await bob.chat("jarvis@localhost", "status");
      await bob.waitFor(/^jarvis@localhost\/jarvis: denied: read-only commands are open in jarvis's rooms/);
    } finally {
      await bob.close();
    }
  });

  it("rejoins its room after the server restarts", async () => {
    const before = states.length;
    await alice.close();
    await server.stop();
    await eventually(
      () => states.slice(before).find((s) => s.kind === "reconnecting"),
      30_000,
      "reconnecting",
    );
    await server.start();
    await eventually(
      () => states.slice(before).find((s) => s.kind === "connected"),
      60_000,
      "connected again",
    );
    alice = await connectXmppOperator(server.service, "alice", "alice-secret", [room]);
    await alice.groupchat(room, "jarvis: status loki");
    await alice.waitFor(new RegExp(`^${room}/jarvis: alice: loki: demo succeeded`), 0, 30_000);
  }, 120_000);
});
