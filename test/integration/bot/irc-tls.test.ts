/**
 * IRC over TLS on a real ngircd with a certificate made for the test: the bot connects with TLS
 * (tls_insecure, since nobody signed that certificate), joins, and answers an operator who is
 * connected over TLS too.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openJarvis } from "../../../src/service.js";
import type { Jarvis } from "../../../src/service.js";
import { startBot } from "../../../src/bot/bot.js";
import type { Bot } from "../../../src/bot/bot.js";
import { makeJarvisEnv } from "../../helpers/jarvis-env.js";
import { startNgircd } from "../servers/ngircd.js";
import type { Ngircd } from "../servers/ngircd.js";
import { connectOperator } from "./irc-operator.js";
import type { IrcOperator } from "./irc-operator.js";

let server: Ngircd;
let jarvis: Jarvis;
let bot: Bot;
let alice: IrcOperator;

beforeAll(async () => {
  server = await startNgircd({ tls: true });
  const env = makeJarvisEnv({
    extraConfig: `
chat:
  irc:
    host: 127.0.0.1
    port: ${server.port}
    tls: true
    tls_insecure: true
    channels: ["#ops"]
acl:
  roles:
    operator: {commands: ["*"], hosts: ["*"]}
  people:
    alice: {roles: [operator], identities: ["irc:alice!~alice@127.0.0.1"]}
`,
  });
  jarvis = await openJarvis(env.config(), { execute: true, pollMs: 200 });
  bot = await startBot(jarvis, { log: () => undefined });
  alice = await connectOperator(server.port, "alice", ["#ops"], "alice", true);
});

afterAll(async () => {
  await alice?.close();
  await bot?.close();
  await jarvis?.close();
  await server?.close();
});

describe("jarvis on IRC over TLS (real ngircd)", () => {
  it("connects with TLS and answers in the channel", async () => {
    expect(bot.adapters.get("irc")!.state.kind).toBe("connected");
    const from = alice.seen.length;
    alice.say("#ops", "jarvis: whoami");
    await alice.waitFor(
      /^jarvis -> #ops: alice: you are irc:alice!~alice@127\.0\.0\.1; roles: operator/,
      from,
    );
  });
});
