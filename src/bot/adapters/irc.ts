/**
 * IRC through irc-framework: TLS, SASL, server password, channel keys. irc-framework gives up
 * after 3 reconnect attempts (and only reconnects once registered for 5 s), so its own reconnect
 * is off and this adapter reconnects forever with backoff and rejoins its channels.
 *
 * Identity: the account the network vouches for (IRCv3 account-tag when the server sends it,
 * else WHOIS 330), otherwise the full nick!user@host. A WHOIS answer is used only if it still
 * shows the same user@host, and is remembered for a short while per full mask.
 */
import irc from "irc-framework";
import type { IrcMessageEvent, IrcWhoisEvent } from "irc-framework";
import { ChatError } from "../../errors.js";
import type { ChatPlace } from "../chat-adapter.js";
import { backoffMs } from "../connection-state.js";
import type { IrcNetworkConfig } from "../chat-config.js";
import { ircIdentity } from "../identity.js";
import { AdapterBase } from "./base.js";

/** How long a WHOIS account answer is trusted for one nick!user@host. */
const WHOIS_TTL_MS = 60_000;
const WHOIS_TIMEOUT_MS = 5_000;

/** An IRC network connection. */
export class IrcAdapter extends AdapterBase {
  private readonly client = new irc.Client();
  private closing = false;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private registered = false;
  private firstConnect: { resolve(): void; reject(err: unknown): void } | undefined;
  private lastError = "";
  private readonly accounts = new Map<string, { account: string | undefined; until: number }>();

  constructor(private readonly config: IrcNetworkConfig) {
    // 512 bytes per IRC line, minus the prefix the server adds and "PRIVMSG <target> :".
    super(config.name, {
      maxLineBytes: 400,
      maxLines: config.pace.maxLines,
      multiline: false,
      burst: config.pace.burst,
      intervalMs: config.pace.intervalMs,
    });
    this.client.on("registered", () => this.onRegistered());
    this.client.on("close", () => this.onClose("connection closed"));
    this.client.on("socket error", (err: Error) => (this.lastError = err.message));
    this.client.on("privmsg", (event: IrcMessageEvent) => void this.onMessage(event));
    this.client.on("nick in use", () => {
      // Our nick is still held (a ghost of the last connection): take another until it is free.
      if (!this.registered) this.client.changeNick(`${this.config.nick}_${Math.floor(Math.random() * 1000)}`);
    });
    this.client.on("sasl failed", (event: { reason: string }) => {
      const err = new ChatError(
        "E_CHAT_AUTH",
        `${this.network}: SASL login as ${this.config.sasl?.account ?? "?"} failed (${event.reason}); check chat.${this.network}.sasl in jarvis.yml`,
      );
      // Later refusals (the account changed while jarvis runs) show as the reason of the next
      // reconnecting state, so the operator sees why it keeps reconnecting.
      this.lastError = err.message;
      this.firstConnect?.reject(err);
      this.firstConnect = undefined;
    });
  }

  /** Connect; resolves after the first registration or the first failed attempt (retrying goes on). */
  connect(): Promise<void> {
    this.closing = false;
    this.setState({ kind: "connecting" });
    const first = new Promise<void>((resolve, reject) => (this.firstConnect = { resolve, reject }));
    this.open();
    return first;
  }

  private open(): void {
    this.registered = false;
    this.client.connect({
      host: this.config.host,
      port: this.config.port,
      nick: this.config.nick,
      username: this.config.username,
      gecos: "jarvis deployment bot",
      tls: this.config.tls,
      rejectUnauthorized: !this.config.tlsInsecure,
      ...(this.config.password ? { password: this.config.password } : {}),
      ...(this.config.sasl
        ? {
            account: { account: this.config.sasl.account, password: this.config.sasl.password },
            sasl_disconnect_on_fail: true,
          }
        : {}),
      auto_reconnect: false,
      message_max_length: 450,
      ping_interval: 20,
      ping_timeout: 40,
    });
  }

  private onRegistered(): void {
    this.registered = true;
    this.attempt = 0;
    for (const channel of this.config.channels) this.client.join(channel.name, channel.key);
    // JOINs are sent before anything the outbox flushes, and the server handles them in order.
    this.setState({ kind: "connected" });
    this.firstConnect?.resolve();
    this.firstConnect = undefined;
  }

  private onClose(reason: string): void {
    this.registered = false;
    if (this.closing) return;
    this.attempt++;
    const waitMs = backoffMs(this.attempt, 30_000);
    this.setState({ kind: "reconnecting", attempt: this.attempt, waitMs, reason: this.lastError || reason });
    this.lastError = "";
    this.firstConnect?.resolve();
    this.firstConnect = undefined;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.open(), waitMs);
  }

  protected async transmit(place: ChatPlace, payload: string): Promise<void> {
    if (!this.registered || !this.client.connection.connected)
      throw new ChatError("E_CHAT_DISCONNECTED", `${this.network}: not connected`, { retryable: true });
    this.client.say(place.room, payload);
  }

  private async onMessage(event: IrcMessageEvent): Promise<void> {
    if (!event.nick || event.nick === this.client.user.nick) return;
    const direct = !/^[#&!+]/.test(event.target);
    const mask = `${event.nick}!${event.ident}@${event.hostname}`;
    // Ask WHOIS only for lines that may be commands: never for the room's ordinary chatter.
    const lower = event.message.toLowerCase();
    const nick = this.config.nick.toLowerCase();
    const maybeCommand = direct || lower.startsWith(nick) || lower.startsWith(`@${nick}`);
    const account = maybeCommand ? await this.accountOf(event, mask) : event.account || undefined;
    this.messages.emit({
      network: this.network,
      place: direct ? { room: event.nick, direct: true } : { room: event.target, direct: false },
      identity: ircIdentity(this.network, account, event.nick, event.ident, event.hostname),
      displayName: event.nick,
      text: event.message,
    });
  }

  /** The account behind a message: from its tag, or (when the server sends no tags) from WHOIS. */
  private async accountOf(event: IrcMessageEvent, mask: string): Promise<string | undefined> {
    if (event.account) return event.account;
    if (this.client.network.cap.isEnabled("account-tag")) return undefined; // tagged networks tag every logged-in user
    const cached = this.accounts.get(mask);
    if (cached && cached.until > Date.now()) return cached.account;
    const answer = await new Promise<IrcWhoisEvent | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), WHOIS_TIMEOUT_MS);
      this.client.whois(event.nick, (whois) => {
        clearTimeout(timer);
        resolve(whois);
      });
    });
    // Only trust the answer if it describes the same connection that sent the message.
    const same =
      answer && !answer.error && answer.ident === event.ident && answer.hostname === event.hostname;
    const account = same && answer.account ? answer.account : undefined;
    if (answer && this.accounts.size > 5_000) this.accounts.clear();
    if (answer) this.accounts.set(mask, { account, until: Date.now() + WHOIS_TTL_MS });
    return account;
  }

  /** Quit and stop reconnecting. */
  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.timer);
    if (this.client.connection.connected) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 2_000);
        this.client.once("close", () => {
          clearTimeout(timer);
          resolve();
        });
        this.client.quit("jarvis stopping");
      });
    }
    this.client.connection.end();
    this.setState({ kind: "closed" });
  }
}
