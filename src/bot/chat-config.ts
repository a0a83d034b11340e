/**
 * The chat configuration jarvis runs with: `chat:` and `acl:` as checked when jarvis.yml was
 * loaded (bot/chat-schema.ts), with the defaults that depend on chat.nick filled in, state
 * directories resolved, and `${VAR}` secrets read from the environment. Secrets are read only
 * here, when chat starts, so other commands need none of them.
 */
import { resolve } from "node:path";
import { expandEnv } from "../config.js";
import type { JarvisConfig } from "../config.js";
import type { AclPolicy } from "../commands/acl.js";
import type { DocPath } from "../schema/schema-problem.js";
import type { NetworkSettings, PaceConfig } from "./chat-schema.js";

export type { PaceConfig } from "./chat-schema.js";

/** Settings every network has. */
interface NetworkBase {
  name: string;
  pace: PaceConfig;
}

/** An IRC network. */
export interface IrcNetworkConfig extends NetworkBase {
  kind: "irc";
  host: string;
  port: number;
  tls: boolean;
  /** Accept a certificate that does not verify (self-signed test servers only). */
  tlsInsecure: boolean;
  nick: string;
  username: string;
  /** Server password (PASS), if the network needs one. */
  password: string | undefined;
  sasl: { account: string; password: string } | undefined;
  channels: { name: string; key: string | undefined }[];
}

/** An XMPP account. */
export interface XmppNetworkConfig extends NetworkBase {
  kind: "xmpp";
  /** e.g. xmpp://127.0.0.1:5222 or xmpps://host:5223 */
  service: string;
  domain: string;
  username: string;
  password: string;
  resource: string;
  /** Multi-user chat rooms, joined with this nick (default: chat.nick). */
  rooms: { jid: string; nick: string; password: string | undefined }[];
}

/** A Matrix account. */
export interface MatrixNetworkConfig extends NetworkBase {
  kind: "matrix";
  homeserver: string;
  accessToken: string;
  /** Where the sync token is kept, so a restart does not replay old commands. */
  stateDir: string;
  rooms: string[];
}

/** One configured network. */
export type NetworkConfig = IrcNetworkConfig | XmppNetworkConfig | MatrixNetworkConfig;

/** The chat configuration, secrets read. */
export interface ChatConfig {
  /** The name people address: "jarvis: status". */
  nick: string;
  networks: NetworkConfig[];
  /** Commands per identity: a burst, then one per interval; exempt identities skip it. */
  rateLimit: { burst: number; intervalMs: number; exempt: Set<string> };
  acl: AclPolicy;
}

/** The checked `chat:` and `acl:` of a loaded configuration, secrets read from `env`. */
export function loadChatConfig(config: JarvisConfig, env: NodeJS.ProcessEnv = process.env): ChatConfig {
  const { nick, networks, rateLimit, acl } = config.chat;
  const secret = (value: string, path: DocPath): string =>
    expandEnv(value, env, `${config.file ?? "jarvis.yml"}:${config.lineOf(path) ?? 1}: ${path.join(".")}`);
  const optionalSecret = (value: string | undefined, path: DocPath): string | undefined =>
    value === undefined ? undefined : secret(value, path);
  return {
    nick,
    networks: networks.map((n) => withSecrets(n, nick, config.baseDir, secret, optionalSecret)),
    rateLimit,
    acl,
  };
}

function withSecrets(
  n: NetworkSettings,
  nick: string,
  baseDir: string,
  secret: (value: string, path: DocPath) => string,
  optionalSecret: (value: string | undefined, path: DocPath) => string | undefined,
): NetworkConfig {
  const at = (...keys: (string | number)[]): DocPath => ["chat", n.name, ...keys];
  switch (n.kind) {
    case "irc":
      return {
        ...n,
        nick: n.nick ?? nick,
        username: n.username ?? nick,
        password: optionalSecret(n.password, at("password")),
        sasl: n.sasl && {
          account: n.sasl.account,
          password: secret(n.sasl.password, at("sasl", "password")),
        },
        channels: n.channels.map((c, i) => ({ name: c.name, key: optionalSecret(c.key, at("channels", i)) })),
      };
    case "xmpp":
      return {
        ...n,
        password: secret(n.password, at("password")),
        rooms: n.rooms.map((r, i) => ({
          jid: r.jid,
          nick: r.nick ?? nick,
          password: optionalSecret(r.password, at("rooms", i)),
        })),
      };
    case "matrix":
      return {
        ...n,
        accessToken: secret(n.accessToken, at("access_token")),
        stateDir: resolve(baseDir, n.stateDir ?? `.state/${n.name}`),
      };
  }
}
