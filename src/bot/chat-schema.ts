/**
 * The `chat:` and `acl:` sections of jarvis.yml as zod schemas, checked when jarvis.yml is loaded
 * (every command, `jarvis validate` too), not only when chat starts. Every key of `chat:` other
 * than nick and rate_limit is a network named by its key; its `kind` defaults to the key, and the
 * kind picks the network's schema from NETWORK_KINDS, so an unknown key is answered with the keys
 * of that kind only. Secrets (`${VAR}`) stay unexpanded here: they are read from the environment
 * when chat starts (bot/chat-config.ts), so the CLI needs none of them.
 */
import { z } from "zod";
import { nearest } from "../schema/did-you-mean.js";
import { check, kindOf } from "../schema/schema-problem.js";
import type { DocPath, SchemaProblem } from "../schema/schema-problem.js";
import type { AclPolicy } from "../commands/acl.js";
import { aclSchema } from "./acl-schema.js";
import { atLeast, flag, numberOr, optionalText, text } from "./settings-fields.js";

/** Flood pacing of one network: a burst, then one line per interval. */
export interface PaceConfig {
  burst: number;
  intervalMs: number;
  /** Most lines of one reply before it is cut with a pointer to the rest. */
  maxLines: number;
  /** Followed step output (`follow`): at most this many lines per followIntervalMs, the rest summarised. */
  followLines: number;
  followIntervalMs: number;
}

/** Followed step output unless a network's pace says otherwise: 5 lines every 10 s. */
const FOLLOW_DEFAULTS = { followLines: 5, followIntervalMs: 10_000 } as const;

const NETWORK_NAME = /^[a-z][a-z0-9_-]*$/;
const CHAT_KEYS = ["nick", "rate_limit"] as const;

const paceSchema = (given: Omit<PaceConfig, keyof typeof FOLLOW_DEFAULTS>) => {
  const d: PaceConfig = { ...FOLLOW_DEFAULTS, ...given };
  return z
    .strictObject({
      burst: numberOr(1, d.burst),
      interval_ms: numberOr(0, d.intervalMs),
      max_lines: numberOr(2, d.maxLines),
      follow_lines: numberOr(1, d.followLines),
      follow_interval_ms: numberOr(100, d.followIntervalMs),
    })
    .nullish()
    .transform((p): PaceConfig => ({
      burst: p?.burst ?? d.burst,
      intervalMs: p?.interval_ms ?? d.intervalMs,
      maxLines: p?.max_lines ?? d.maxLines,
      followLines: p?.follow_lines ?? d.followLines,
      followIntervalMs: p?.follow_interval_ms ?? d.followIntervalMs,
    }));
};

const networkMapping = {
  error: (iss: z.core.$ZodRawIssue) =>
    iss.code === "invalid_type"
      ? "must be a mapping describing a network (kind: irc | xmpp | matrix)"
      : undefined,
};

// The transform sits outside the union: zod then reports the one form that came close.
const channel = z
  .union(
    [
      z.string().regex(/^[#&]/, {
        // A channel name is no secret; naming it shows which entry needs quoting.
        error: (iss) =>
          `'${String(iss.input)}' is not a channel name; channels start with # (quote it in YAML: "#ops")`,
      }),
      z.strictObject({ name: text, key: optionalText }),
    ],
    { error: "must be a channel name ('#ops') or {name, key}" },
  )
  .transform((c) => (typeof c === "string" ? { name: c, key: undefined } : c));

const ircSchema = z
  .strictObject(
    {
      kind: z.literal("irc").optional(),
      pace: paceSchema({ burst: 4, intervalMs: 700, maxLines: 8 }),
      host: text,
      port: atLeast(1).nullish(),
      tls: flag(true),
      tls_insecure: flag(false),
      nick: optionalText,
      username: optionalText,
      password: optionalText,
      sasl: z.strictObject({ account: text, password: text }).nullish(),
      channels: z.array(channel, { error: "must be a list of channels ('#ops' or {name, key})" }).nullish(),
    },
    networkMapping,
  )
  .transform((n) => ({
    kind: "irc" as const,
    pace: n.pace,
    host: n.host,
    port: n.port ?? (n.tls ? 6697 : 6667),
    tls: n.tls,
    tlsInsecure: n.tls_insecure,
    nick: n.nick,
    username: n.username,
    password: n.password,
    sasl: n.sasl ?? undefined,
    channels: n.channels ?? [],
  }));

const xmppRoom = z
  .union([text, z.strictObject({ jid: text, nick: optionalText, password: optionalText })], {
    error: "must be a room JID ('ops@conference.example.org') or {jid, nick, password}",
  })
  .transform((r) => (typeof r === "string" ? { jid: r, nick: undefined, password: undefined } : r));

const xmppSchema = z
  .strictObject(
    {
      kind: z.literal("xmpp").optional(),
      pace: paceSchema({ burst: 10, intervalMs: 200, maxLines: 30 }),
      service: text,
      domain: text,
      username: text,
      password: text,
      resource: optionalText,
      rooms: z
        .array(xmppRoom, {
          error: "must be a list of room JIDs ('ops@conference.example.org' or {jid, nick, password})",
        })
        .nullish(),
    },
    networkMapping,
  )
  .transform((n) => ({
    kind: "xmpp" as const,
    pace: n.pace,
    service: n.service,
    domain: n.domain,
    username: n.username,
    password: n.password,
    resource: n.resource ?? "jarvis",
    rooms: n.rooms ?? [],
  }));

const matrixSchema = z
  .strictObject(
    {
      kind: z.literal("matrix").optional(),
      pace: paceSchema({ burst: 5, intervalMs: 300, maxLines: 40 }),
      homeserver: text.pipe(
        z
          .string()
          .regex(/^https?:\/\//, { error: "must be an http(s) URL, e.g. https://matrix.example.org" }),
      ),
      access_token: text,
      state_dir: optionalText,
      rooms: z.array(text, { error: "must be a list of room ids" }).nullish(),
    },
    networkMapping,
  )
  .transform((n) => ({
    kind: "matrix" as const,
    pace: n.pace,
    homeserver: n.homeserver,
    accessToken: n.access_token,
    stateDir: n.state_dir,
    rooms: n.rooms ?? [],
  }));

/** Each network kind and its schema: the one place a new kind is added. */
const NETWORK_KINDS = { irc: ircSchema, xmpp: xmppSchema, matrix: matrixSchema };
type NetworkKind = keyof typeof NETWORK_KINDS;

/**
 * One checked network, `${VAR}` secrets (password, sasl.password, channel key, room password,
 * access_token) still unexpanded; nick and username undefined when chat.nick applies.
 */
export type NetworkSettings = {
  [K in NetworkKind]: z.output<(typeof NETWORK_KINDS)[K]> & { name: string };
}[NetworkKind];

const chatSchema = z
  .looseObject(
    {
      nick: optionalText,
      rate_limit: z
        .strictObject({
          commands: numberOr(1, 5),
          per_seconds: numberOr(0, 2),
          exempt: z.array(text, { error: "must be a list of identities" }).nullish(),
        })
        .nullish(),
    },
    { error: "must be a mapping of networks (and nick, rate_limit)" },
  )
  .nullish();

/** The checked `chat:` and `acl:` sections. */
export interface ChatSettings {
  /** The name people address: "jarvis: status". */
  nick: string;
  networks: NetworkSettings[];
  /** Commands per identity: a burst, then one per interval; exempt identities skip it. */
  rateLimit: { burst: number; intervalMs: number; exempt: Set<string> };
  acl: AclPolicy;
}

/** Check `chat:` and `acl:` of a parsed jarvis.yml; the settings, or the problem first in the file. */
export function checkChatSections(
  doc: Record<string, unknown>,
  lineOf: (path: DocPath) => number | undefined,
): { ok: true; data: ChatSettings } | { ok: false; problem: SchemaProblem } {
  const chat = check(chatSchema, doc.chat, { base: ["chat"], lineOf });
  const acl = check(aclSchema, doc.acl, { base: ["acl"], lineOf });
  const line = (p: SchemaProblem): number => lineOf(p.path) ?? Number.MAX_SAFE_INTEGER;
  // Of several problems, the one an operator meets first reading the file.
  const earliest = (first: SchemaProblem, rest: SchemaProblem[]): SchemaProblem =>
    rest.reduce((a, b) => (line(b) < line(a) ? b : a), first);
  const aclProblems = acl.ok ? [] : [acl.problem];
  if (!chat.ok) return { ok: false, problem: earliest(chat.problem, aclProblems) };
  const networks: NetworkSettings[] = [];
  const networkProblems: SchemaProblem[] = [];
  for (const [key, value] of Object.entries(chat.data ?? {})) {
    if ((CHAT_KEYS as readonly string[]).includes(key)) continue;
    const network = checkNetwork(key, value, lineOf);
    if (network.ok) networks.push(network.data);
    else networkProblems.push(network.problem);
  }
  if (!acl.ok) return { ok: false, problem: earliest(acl.problem, networkProblems) };
  const [firstNetworkProblem, ...more] = networkProblems;
  if (firstNetworkProblem) return { ok: false, problem: earliest(firstNetworkProblem, more) };
  const rateLimit = chat.data?.rate_limit;
  return {
    ok: true,
    data: {
      nick: chat.data?.nick ?? "jarvis",
      networks,
      rateLimit: {
        burst: rateLimit?.commands ?? 5,
        intervalMs: (rateLimit?.per_seconds ?? 2) * 1000,
        exempt: new Set(rateLimit?.exempt ?? []),
      },
      acl: acl.data,
    },
  };
}

function checkNetwork(
  key: string,
  value: unknown,
  lineOf: (path: DocPath) => number | undefined,
): { ok: true; data: NetworkSettings } | { ok: false; problem: SchemaProblem } {
  const path = ["chat", key];
  if (!NETWORK_NAME.test(key))
    return {
      ok: false,
      problem: { path, message: `chat.${key}: network names are lower-case letters, digits, - and _` },
    };
  const written = isMapping(value) ? value.kind : undefined;
  const kind = written ?? key;
  if (!isNetworkKind(kind)) {
    // No kind written: the key is likelier a misspelt chat key or kind than a network of its own.
    const meant =
      written === undefined ? nearest(key, [...CHAT_KEYS, ...Object.keys(NETWORK_KINDS)]) : undefined;
    if (meant)
      return {
        ok: false,
        problem: { path, message: `unknown key 'chat.${key}'; did you mean 'chat.${meant}'?` },
      };
    // A word is shown as written; anything else only by its kind, in case it is a misplaced secret.
    const named = typeof kind === "string" && /^[\w-]{1,20}$/.test(kind) ? `'${kind}'` : `(${kindOf(kind)})`;
    return {
      ok: false,
      problem: {
        path: [...path, "kind"],
        message: `chat.${key}.kind: unknown network kind ${named}; use irc, xmpp or matrix`,
      },
    };
  }
  const result = check(NETWORK_KINDS[kind], value, { base: path, lineOf });
  return result.ok ? { ok: true, data: { ...result.data, name: key } } : result;
}

function isNetworkKind(kind: unknown): kind is NetworkKind {
  return typeof kind === "string" && Object.hasOwn(NETWORK_KINDS, kind);
}

function isMapping(value: unknown): value is { kind?: unknown } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
