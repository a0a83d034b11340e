/**
 * The chat front on Matrix: the real matrix-bot-sdk client talks over HTTP to a local homeserver
 * written from the client-server spec (test/integration/servers/matrix-homeserver.ts), and the
 * operators are real MatrixClients too. Invites are accepted only from listed people; the sync
 * token on disk keeps a restarted bot from replaying old commands.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { MatrixClient, MemoryStorageProvider } from "matrix-bot-sdk";
import { openJarvis } from "../../../src/service.js";
import type { Jarvis } from "../../../src/service.js";
import { startBot } from "../../../src/bot/bot.js";
import type { Bot } from "../../../src/bot/bot.js";
import { makeJarvisEnv, repoRoot } from "../../helpers/jarvis-env.js";
import type { JarvisEnv } from "../../helpers/jarvis-env.js";
import { eventually } from "../../helpers/net.js";
import { startHomeserver } from "../servers/matrix-homeserver.js";
import type { Homeserver } from "../servers/matrix-homeserver.js";

const loki = join(repoRoot, "examples/loki.yml");
const BOT = "@jarvis:localhost";
let hs: Homeserver;
let env: JarvisEnv;
let jarvis: Jarvis;
let bot: Bot;
let alice: MatrixClient;
let bob: MatrixClient;
let room = "";

function botSaid(roomId: string, pattern: RegExp): Promise<string> {
  return eventually(
    () => hs.messages(roomId).find((m) => m.sender === BOT && pattern.test(m.body))?.body,
    60_000,
    `jarvis saying ${pattern} (said: ${hs
      .messages(roomId)
      .filter((m) => m.sender === BOT)
      .map((m) => m.body)
      .slice(-5)
      .join(" | ")})`,
  );
}

beforeAll(async () => {
  hs = await startHomeserver();
  process.env.TEST_MATRIX_TOKEN = hs.addUser("jarvis");
  alice = new MatrixClient(hs.url, hs.addUser("alice"), new MemoryStorageProvider());
  bob = new MatrixClient(hs.url, hs.addUser("bob"), new MemoryStorageProvider());
  env = makeJarvisEnv({
    extraConfig: `
chat:
  nick: jarvis
  matrix:
    homeserver: ${hs.url}
    access_token: \${TEST_MATRIX_TOKEN}
    state_dir: matrix-state
    pace: {burst: 10, interval_ms: 50}
acl:
  roles:
    operator: {commands: ["*"]}
  people:
    alice: {roles: [operator], identities: ["matrix:@alice:localhost"]}
`,
  });
  jarvis = await openJarvis(env.config(), { execute: true, pollMs: 200 });
  bot = await startBot(jarvis, { log: () => undefined });
  expect(bot.adapters.get("matrix")!.state.kind).toBe("connected");
});

afterAll(async () => {
  await bot?.close();
  await jarvis?.close();
  await hs?.close();
  delete process.env.TEST_MATRIX_TOKEN;
});

describe("jarvis on Matrix (local homeserver, real SDK)", () => {
  it("joins only on invites from listed people", async () => {
    const bobsRoom = await bob.createRoom({ invite: [BOT] });
    room = await alice.createRoom({ invite: [BOT, "@bob:localhost"] });
    await eventually(
      () => (hs.membership(room, BOT) === "join" ? true : undefined),
      60_000,
      "jarvis joined alice's room",
    );
    // Bob's invite came first and was seen in the same or an earlier sync: it stays unanswered.
    expect(hs.membership(bobsRoom, BOT)).toBe("invite");
    await bob.joinRoom(room);
  });

  it("runs the demo pipeline for a listed user and reports stages and the result", async () => {
    await alice.sendText(room, `jarvis: run demo ${loki}`);
    await botSaid(room, /^@alice:localhost: loki: demo queued as run/);
    await botSaid(room, /^loki: 1\/5 hello:greet$/);
    await botSaid(room, /^loki: demo succeeded/);
    const audit = await jarvis.store.listAudit(20);
    expect(audit.find((a) => a.command.startsWith("run demo"))).toMatchObject({
      identity: "matrix:@alice:localhost",
      network: "matrix",
      room,
      decision: "allowed",
    });
  });

  it("refuses a user the acl does not list, whatever display name they use", async () => {
    await bob.sendText(room, "jarvis: cancel loki");
    await botSaid(
      room,
      /^@bob:localhost: denied: cancel on loki is not allowed: it needs role operator; matrix:@bob:localhost has no role/,
    );
  });

  it("does not replay old commands after a restart (sync token on disk)", async () => {
    await bot.close();
    const saved = JSON.parse(readFileSync(join(env.dir, "matrix-state/matrix-sync.json"), "utf8")) as {
      syncToken?: string;
    };
    expect(saved.syncToken).toMatch(/^s\d+$/);
    const runsBefore = (await jarvis.control.history("loki", 50)).length;
    bot = await startBot(jarvis, { log: () => undefined });
    await alice.sendText(room, "jarvis: whoami");
    await botSaid(room, /^@alice:localhost: you are matrix:@alice:localhost; roles: operator/);
    expect((await jarvis.control.history("loki", 50)).length).toBe(runsBefore);
    const replies = hs.messages(room).filter((m) => m.sender === BOT && /demo queued as run/.test(m.body));
    expect(replies).toHaveLength(1);
  });
});
