/**
 * IRC identities by account on a real InspIRCd with real Atheme services: the bot logs in with
 * SASL; an operator logged in to her account is `irc:alice` whatever her nick; someone using the
 * nick `alice` without her account is only a mask with no roles; a wrong SASL password for the bot
 * fails clearly without the password appearing anywhere. Run once with IRCv3 account-tag and once
 * without, where the bot has to ask WHOIS (330) who is logged in.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openJarvis } from "../../../src/service.js";
import type { Jarvis } from "../../../src/service.js";
import { startBot } from "../../../src/bot/bot.js";
import type { Bot } from "../../../src/bot/bot.js";
import { makeJarvisEnv } from "../../helpers/jarvis-env.js";
import { startInspircd } from "../servers/inspircd.js";
import type { InspircdNetwork } from "../servers/inspircd.js";
import { connectOperator } from "./irc-operator.js";
import type { IrcOperator } from "./irc-operator.js";

const BOT_PASSWORD = "bot-secret-4711";
const ALICE_PASSWORD = "alice-secret-0815";
const WRONG_PASSWORD = "not-the-bot-password-9";

/** jarvis.yml for a bot logging in as `jarvis` with `password`; alice's identity is her account. */
function config(port: number, password: string): string {
  return `
chat:
  nick: jarvis
  irc:
    host: 127.0.0.1
    port: ${port}
    tls: false
    channels: ["#ops"]
    sasl: {account: jarvis, password: ${password}}
acl:
  roles:
    operator: {commands: ["*"], hosts: ["*"]}
  people:
    alice: {roles: [operator], identities: ["irc:alice"]}
`;
}

for (const accountTag of [true, false]) {
  describe(`IRC accounts on InspIRCd + Atheme (${accountTag ? "account-tag" : "WHOIS"})`, () => {
    let server: InspircdNetwork;
    let jarvis: Jarvis;
    let bot: Bot;
    let alice: IrcOperator | undefined;
    let mallory: IrcOperator | undefined;
    const log: string[] = [];

    beforeAll(async () => {
      server = await startInspircd({ accountTag });
      await server.register("jarvis", BOT_PASSWORD);
      await server.register("alice", ALICE_PASSWORD);
      jarvis = await openJarvis(makeJarvisEnv({ extraConfig: config(server.port, BOT_PASSWORD) }).config(), {
        execute: false,
        pollMs: 200,
      });
      bot = await startBot(jarvis, { log: (line) => log.push(line) });
    });

    afterAll(async () => {
      await mallory?.close();
      await alice?.close();
      await bot?.close();
      await jarvis?.close();
      await server?.close();
    });

    it("logs the bot in with SASL and names the operator by her account, whatever her nick", async () => {
      expect(bot.adapters.get("irc")!.state.kind).toBe("connected");
      // A nick other than the account: only the account can have made her irc:alice.
      alice = await connectOperator(server.port, "al1ce", ["#ops"], "alice", false, {
        account: "alice",
        password: ALICE_PASSWORD,
      });
      const from = alice.seen.length;
      alice.say("#ops", "jarvis: whoami");
      await alice.waitFor(/^jarvis -> #ops: al1ce: you are irc:alice; roles: operator$/, from);
    });

    it("gives someone using the nick alice without her account only a mask and no roles", async () => {
      mallory = await connectOperator(server.port, "alice", ["#ops"], "mallory");
      const from = mallory.seen.length;
      mallory.say("#ops", "jarvis: whoami");
      const line = await mallory.waitFor(/^jarvis -> #ops: alice: you are /, from);
      expect(line).toBe(
        "jarvis -> #ops: alice: you are irc:alice!mallory@127.0.0.1; roles: none (read-only commands in jarvis's rooms)",
      );
    });

    it("fails clearly on a wrong SASL password for the bot, never showing the password", async () => {
      const wrongLog: string[] = [];
      const other = await openJarvis(
        makeJarvisEnv({ extraConfig: config(server.port, WRONG_PASSWORD) }).config(),
        { execute: false, pollMs: 200 },
      );
      try {
        const err = await startBot(other, { log: (line) => wrongLog.push(line) }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toMatchObject({ code: "E_CHAT_AUTH" });
        const message = (err as Error).message;
        expect(message).toMatch(/irc: SASL login as jarvis failed .*check chat\.irc\.sasl in jarvis\.yml/);
        for (const text of [message, ...wrongLog, ...log]) {
          expect(text).not.toContain(WRONG_PASSWORD);
          expect(text).not.toContain(BOT_PASSWORD);
        }
      } finally {
        await other.close();
      }
    });
  });
}
