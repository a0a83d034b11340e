/**
 * An IRC client playing the operator in tests: the real irc-framework client, joined to a channel,
 * keeping every line it receives so tests can wait for the bot's answers.
 */
import irc from "irc-framework";
import type { IrcMessageEvent } from "irc-framework";
import { eventually } from "../../helpers/net.js";

/** A connected operator. */
export interface IrcOperator {
  nick: string;
  /** Every message received: "<from> -> <target>: <text>". */
  seen: string[];
  say(target: string, text: string): void;
  changeNick(nick: string): Promise<void>;
  /** Wait for a received message matching `pattern`, seen after index `from`. */
  waitFor(pattern: RegExp, from?: number, timeoutMs?: number): Promise<string>;
  close(): Promise<void>;
}

/** A services account to log in to with SASL PLAIN while connecting. */
export interface OperatorSasl {
  account: string;
  password: string;
}

/** Connect as `nick` (user name `user`), logged in to `sasl`'s account if given, and join `channels`. */
export async function connectOperator(
  port: number,
  nick: string,
  channels: string[],
  user = nick,
  tls = false,
  sasl?: OperatorSasl,
): Promise<IrcOperator> {
  const client = new irc.Client();
  const seen: string[] = [];
  client.on("privmsg", (e: IrcMessageEvent) => seen.push(`${e.nick} -> ${e.target}: ${e.message}`));
  client.on("notice", (e: IrcMessageEvent) => seen.push(`${e.nick} -> ${e.target}: ${e.message}`));
  const joined = new Set<string>();
  client.on("join", (e: { nick: string; channel: string }) => {
    if (e.nick === client.user.nick) joined.add(e.channel.toLowerCase());
  });
  client.on("registered", () => {
    for (const c of channels) client.join(c);
  });
  client.connect({
    host: "127.0.0.1",
    port,
    nick,
    username: user,
    gecos: "operator",
    auto_reconnect: false,
    ...(tls ? { tls: true, rejectUnauthorized: false } : {}),
    // A failed login must fail the test, not leave an operator connected without her account.
    ...(sasl
      ? { account: { account: sasl.account, password: sasl.password }, sasl_disconnect_on_fail: true }
      : {}),
  });
  await eventually(
    () => (channels.every((c) => joined.has(c.toLowerCase())) ? true : undefined),
    20_000,
    `${nick} joined ${channels.join(",")}`,
  );
  const op: IrcOperator = {
    get nick() {
      return client.user.nick;
    },
    seen,
    say: (target, text) => client.say(target, text),
    async changeNick(newNick) {
      client.changeNick(newNick);
      await eventually(() => (client.user.nick === newNick ? true : undefined), 10_000, `nick ${newNick}`);
    },
    waitFor: (pattern, from = 0, timeoutMs = 30_000) =>
      eventually(
        () => seen.slice(from).find((l) => pattern.test(l)),
        timeoutMs,
        `a message matching ${pattern} (seen: ${seen.slice(-8).join(" | ")})`,
      ),
    async close() {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 2_000);
        client.once("close", () => {
          clearTimeout(timer);
          resolve();
        });
        client.quit("bye");
      });
      client.connection.end();
    },
  };
  return op;
}
