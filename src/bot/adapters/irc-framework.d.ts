// The part of irc-framework (which ships no types) that jarvis uses.
declare module "irc-framework" {
  import { EventEmitter } from "node:events";

  interface IrcConnectOptions {
    host: string;
    port: number;
    nick: string;
    username?: string;
    gecos?: string;
    password?: string;
    tls?: boolean;
    rejectUnauthorized?: boolean;
    account?: { account: string; password: string };
    auto_reconnect?: boolean;
    message_max_length?: number;
    ping_interval?: number;
    ping_timeout?: number;
    sasl_disconnect_on_fail?: boolean;
    [key: string]: unknown;
  }

  interface IrcMessageEvent {
    nick: string;
    ident: string;
    hostname: string;
    target: string;
    message: string;
    account?: string | false;
    tags: Record<string, string>;
  }

  interface IrcWhoisEvent {
    nick: string;
    ident?: string;
    hostname?: string;
    account?: string;
    error?: string;
  }

  class Client extends EventEmitter {
    constructor(options?: Partial<IrcConnectOptions>);
    connect(options?: IrcConnectOptions): void;
    quit(message?: string): void;
    join(channel: string, key?: string): void;
    say(target: string, message: string): void;
    changeNick(nick: string): void;
    whois(nick: string, cb: (event: IrcWhoisEvent) => void): void;
    raw(...args: unknown[]): void;
    user: { nick: string };
    network: { cap: { isEnabled(cap: string): boolean } };
    connection: { connected: boolean; end(): void };
    connected: boolean;
  }

  const irc: { Client: typeof Client };
  export default irc;
  export { Client, IrcConnectOptions, IrcMessageEvent, IrcWhoisEvent };
}
