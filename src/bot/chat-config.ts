/**
 * The `chat:` and `acl:` sections of jarvis.yml, validated with file:line errors. Every key of
 * `chat:` other than nick, rate_limit is a network, named by its key; its `kind` defaults to the
 * key (`irc:`, `xmpp:`, `matrix:`), so two IRC networks are `libera: {kind: irc, ...}` and
 * `oftc: {kind: irc, ...}`. Secrets are written as `${VAR}` and read from the environment.
 */
import { resolve } from "node:path";
import { ConfigError } from "../errors.js";
import { expandEnv } from "../config.js";
import { nearest } from "../schema/did-you-mean.js";
import type { JarvisConfig } from "../config.js";
import { KNOWN_VERBS } from "../commands/acl.js";
import type { AclPolicy, Role } from "../commands/acl.js";

/** Flood pacing of one network: a burst, then one line per interval. */
export interface PaceConfig {
  burst: number;
  intervalMs: number;
  /** Most lines of one reply before it is cut with a pointer to the rest. */
  maxLines: number;
}

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

/** The validated chat configuration. */
export interface ChatConfig {
  /** The name people address: "jarvis: status". */
  nick: string;
  networks: NetworkConfig[];
  /** Commands per identity: a burst, then one per interval; exempt identities skip it. */
  rateLimit: { burst: number; intervalMs: number; exempt: Set<string> };
  acl: AclPolicy;
}

const DEFAULT_PACE: Record<NetworkConfig["kind"], PaceConfig> = {
  irc: { burst: 4, intervalMs: 700, maxLines: 8 },
  xmpp: { burst: 10, intervalMs: 200, maxLines: 30 },
  matrix: { burst: 5, intervalMs: 300, maxLines: 40 },
};

/** Validate `chat:` and `acl:` of a loaded configuration. */
export function loadChatConfig(config: JarvisConfig, env: NodeJS.ProcessEnv = process.env): ChatConfig {
  const v = new Validator(config, env);
  const chat = v.mapping(["chat"]) ?? {};
  const nick = v.string(["chat", "nick"], false) ?? "jarvis";
  const networks: NetworkConfig[] = [];
  for (const key of Object.keys(chat)) {
    if (key === "nick" || key === "rate_limit") continue;
    networks.push(v.network(key, nick));
  }
  const rl = v.mapping(["chat", "rate_limit"]) ?? {};
  v.only(["chat", "rate_limit"], rl, ["commands", "per_seconds", "exempt"]);
  return {
    nick,
    networks,
    rateLimit: {
      burst: v.number(["chat", "rate_limit", "commands"], 5, 1),
      intervalMs: v.number(["chat", "rate_limit", "per_seconds"], 2, 0) * 1000,
      exempt: new Set(v.strings(["chat", "rate_limit", "exempt"]) ?? []),
    },
    acl: v.acl(),
  };
}

class Validator {
  constructor(
    private readonly config: JarvisConfig,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  fail(path: (string | number)[], message: string): never {
    const line = this.config.lineOf(path) ?? 1;
    throw new ConfigError(
      "E_CONFIG_CHAT",
      `${this.config.file ?? "jarvis.yml"}:${line}: ${path.join(".")}: ${message}`,
    );
  }

  get(path: (string | number)[]): unknown {
    let node: unknown = this.config.raw;
    for (const key of path)
      node = node && typeof node === "object" ? (node as Record<string | number, unknown>)[key] : undefined;
    return node;
  }

  mapping(path: (string | number)[]): Record<string, unknown> | undefined {
    const value = this.get(path);
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "object" || Array.isArray(value)) this.fail(path, "must be a mapping");
    return value as Record<string, unknown>;
  }

  only(path: (string | number)[], value: Record<string, unknown>, keys: string[]): void {
    for (const key of Object.keys(value)) {
      if (!keys.includes(key)) {
        const meant = nearest(key, keys);
        this.fail(
          [...path, key],
          meant ? `unknown key; did you mean '${meant}'?` : `unknown key; expected one of ${keys.join(", ")}`,
        );
      }
    }
  }

  string(path: (string | number)[], required: true): string;
  string(path: (string | number)[], required: false): string | undefined;
  string(path: (string | number)[], required: boolean): string | undefined {
    const value = this.get(path);
    if (value === undefined || value === null) {
      if (required) this.fail(path, "is required");
      return undefined;
    }
    if (typeof value !== "string" && typeof value !== "number") this.fail(path, "must be a string");
    const text = String(value);
    if (text.trim() === "") this.fail(path, "must not be empty");
    return expandEnv(
      text,
      this.env,
      `${this.config.file ?? "jarvis.yml"}:${this.config.lineOf(path) ?? 1}: ${path.join(".")}`,
    );
  }

  number(path: (string | number)[], fallback: number, min: number): number {
    const value = this.get(path);
    if (value === undefined || value === null) return fallback;
    if (typeof value !== "number" || !Number.isFinite(value) || value < min)
      this.fail(path, `must be a number, at least ${min}`);
    return value;
  }

  bool(path: (string | number)[], fallback: boolean): boolean {
    const value = this.get(path);
    if (value === undefined || value === null) return fallback;
    if (typeof value !== "boolean") this.fail(path, "must be true or false");
    return value;
  }

  strings(path: (string | number)[]): string[] | undefined {
    const value = this.get(path);
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value)) this.fail(path, "must be a list");
    return value.map((_item, i) => this.string([...path, i], true));
  }

  network(key: string, nick: string): NetworkConfig {
    const path = ["chat", key];
    const net = this.mapping(path);
    if (!net) this.fail(path, "must be a mapping describing a network (kind: irc | xmpp | matrix)");
    const kind = this.string([...path, "kind"], false) ?? key;
    const pace = this.mapping([...path, "pace"]) ?? {};
    this.only([...path, "pace"], pace, ["burst", "interval_ms", "max_lines"]);
    const base = (k: NetworkConfig["kind"]): NetworkBase => ({
      name: key,
      pace: {
        burst: this.number([...path, "pace", "burst"], DEFAULT_PACE[k].burst, 1),
        intervalMs: this.number([...path, "pace", "interval_ms"], DEFAULT_PACE[k].intervalMs, 0),
        maxLines: this.number([...path, "pace", "max_lines"], DEFAULT_PACE[k].maxLines, 2),
      },
    });
    if (!/^[a-z][a-z0-9_-]*$/.test(key))
      this.fail(path, "network names are lower-case letters, digits, - and _");
    switch (kind) {
      case "irc": {
        this.only(path, net, [
          "kind",
          "pace",
          "host",
          "port",
          "tls",
          "tls_insecure",
          "nick",
          "username",
          "password",
          "sasl",
          "channels",
        ]);
        const tls = this.bool([...path, "tls"], true);
        const sasl = this.mapping([...path, "sasl"]);
        if (sasl) this.only([...path, "sasl"], sasl, ["account", "password"]);
        const channels = this.get([...path, "channels"]);
        if (channels !== undefined && !Array.isArray(channels))
          this.fail([...path, "channels"], "must be a list of channels ('#ops' or {name, key})");
        return {
          ...base("irc"),
          kind: "irc",
          host: this.string([...path, "host"], true),
          port: this.number([...path, "port"], tls ? 6697 : 6667, 1),
          tls,
          tlsInsecure: this.bool([...path, "tls_insecure"], false),
          nick: this.string([...path, "nick"], false) ?? nick,
          username: this.string([...path, "username"], false) ?? nick,
          password: this.string([...path, "password"], false),
          sasl: sasl
            ? {
                account: this.string([...path, "sasl", "account"], true),
                password: this.string([...path, "sasl", "password"], true),
              }
            : undefined,
          channels: ((channels as unknown[] | undefined) ?? []).map((c, i) =>
            this.channel([...path, "channels", i], c),
          ),
        };
      }
      case "xmpp": {
        this.only(path, net, [
          "kind",
          "pace",
          "service",
          "domain",
          "username",
          "password",
          "resource",
          "rooms",
        ]);
        const rooms = this.get([...path, "rooms"]);
        if (rooms !== undefined && !Array.isArray(rooms))
          this.fail(
            [...path, "rooms"],
            "must be a list of room JIDs ('ops@conference.example.org' or {jid, nick, password})",
          );
        return {
          ...base("xmpp"),
          kind: "xmpp",
          service: this.string([...path, "service"], true),
          domain: this.string([...path, "domain"], true),
          username: this.string([...path, "username"], true),
          password: this.string([...path, "password"], true),
          resource: this.string([...path, "resource"], false) ?? "jarvis",
          rooms: ((rooms as unknown[] | undefined) ?? []).map((r, i) => {
            const p = [...path, "rooms", i];
            if (typeof r === "string") return { jid: this.string(p, true), nick, password: undefined };
            const m = this.mapping(p) ?? {};
            this.only(p, m, ["jid", "nick", "password"]);
            return {
              jid: this.string([...p, "jid"], true),
              nick: this.string([...p, "nick"], false) ?? nick,
              password: this.string([...p, "password"], false),
            };
          }),
        };
      }
      case "matrix": {
        this.only(path, net, ["kind", "pace", "homeserver", "access_token", "state_dir", "rooms"]);
        const homeserver = this.string([...path, "homeserver"], true);
        if (!/^https?:\/\//.test(homeserver))
          this.fail([...path, "homeserver"], "must be an http(s) URL, e.g. https://matrix.example.org");
        return {
          ...base("matrix"),
          kind: "matrix",
          homeserver,
          accessToken: this.string([...path, "access_token"], true),
          stateDir: resolve(
            this.config.baseDir,
            this.string([...path, "state_dir"], false) ?? `.state/${key}`,
          ),
          rooms: this.strings([...path, "rooms"]) ?? [],
        };
      }
      default:
        return this.fail([...path, "kind"], `unknown network kind '${kind}'; use irc, xmpp or matrix`);
    }
  }

  channel(path: (string | number)[], value: unknown): { name: string; key: string | undefined } {
    if (typeof value === "string") {
      if (!/^[#&]/.test(value))
        this.fail(path, `'${value}' is not a channel name; channels start with # (quote it in YAML: "#ops")`);
      return { name: value, key: undefined };
    }
    const m = this.mapping(path) ?? {};
    this.only(path, m, ["name", "key"]);
    return { name: this.string([...path, "name"], true), key: this.string([...path, "key"], false) };
  }

  acl(): AclPolicy {
    const acl = this.mapping(["acl"]);
    if (!acl) return { configured: false, roles: new Map(), grants: new Map(), roomsRead: true };
    this.only(["acl"], acl, ["roles", "people", "rooms_read"]);
    const roles = new Map<string, Role>();
    for (const name of Object.keys(this.mapping(["acl", "roles"]) ?? {})) {
      const path = ["acl", "roles", name];
      const role = this.mapping(path) ?? {};
      this.only(path, role, ["commands", "hosts"]);
      const commands = this.strings([...path, "commands"]) ?? [];
      for (const [i, c] of commands.entries()) {
        if (c !== "*" && !KNOWN_VERBS.includes(c))
          this.fail(
            [...path, "commands", i],
            `unknown command '${c}'; use one of ${KNOWN_VERBS.join(", ")} or "*"`,
          );
      }
      roles.set(name, {
        name,
        commands: commands.includes("*") ? "*" : new Set(commands),
        hosts: this.strings([...path, "hosts"]) ?? ["*"],
      });
    }
    const grants = new Map<string, string[]>();
    for (const person of Object.keys(this.mapping(["acl", "people"]) ?? {})) {
      const path = ["acl", "people", person];
      const entry = this.mapping(path) ?? {};
      this.only(path, entry, ["roles", "identities"]);
      const personRoles = this.strings([...path, "roles"]) ?? [];
      for (const [i, r] of personRoles.entries())
        if (!roles.has(r)) this.fail([...path, "roles", i], `no role '${r}' under acl.roles`);
      const ids = this.strings([...path, "identities"]) ?? [];
      if (ids.length === 0)
        this.fail(
          [...path, "identities"],
          "list at least one identity (irc:alice, xmpp:alice@example.org, matrix:@alice:example.org, console:alice)",
        );
      for (const [i, id] of ids.entries()) {
        if (!/^[a-z][a-z0-9_-]*:\S+$/.test(id))
          this.fail(
            [...path, "identities", i],
            `'${id}' is not an identity; write <network>:<id>, e.g. irc:alice`,
          );
        grants.set(id, [...(grants.get(id) ?? []), ...personRoles]);
      }
    }
    return { configured: true, roles, grants, roomsRead: this.bool(["acl", "rooms_read"], true) };
  }
}
