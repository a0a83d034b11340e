/**
 * agent.yml: where the agent connects, who it trusts, what it reports and what it allows. Read
 * once at start; unknown keys are refused with file:line like jarvis.yml.
 */
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, resolve } from "node:path";
import { z } from "zod";
import { AgentError } from "../errors.js";
import { parseYamlMapping } from "../clipboard/yaml.js";
import { check } from "../schema/schema-problem.js";
import { EVENT_KIND, OPERATION_KINDS, isNodeName } from "./protocol.js";
import type { OperationKind } from "./protocol.js";
import type { ProbeSpec } from "./event-probes.js";

const argv = z.array(z.string().min(1)).min(1);

const agentYml = z.strictObject({
  /** The node's name in jarvis (and in its NATS subjects); default: the short host name. */
  node: z
    .string()
    .refine(isNodeName, { error: "must be a host name (letters, digits, '-', '.')" })
    .optional(),
  nats: z.strictObject({
    url: z.union([z.string(), z.array(z.string()).min(1)]),
    /** The agent's NKEY seed (SU...), inline or in a file (preferred: keep it out of agent.yml). */
    nkey_seed: z.string().startsWith("SU").optional(),
    nkey_seed_file: z.string().optional(),
    tls: z
      .strictObject({ ca: z.string(), cert: z.string().optional(), key: z.string().optional() })
      .optional(),
  }),
  /** jarvis's ed25519 public key (base64 DER), the only signer whose requests are run. */
  jarvis_public_key: z.string().min(40),
  /** Where the seen-request cache lives, so a restarted agent never runs a request twice. */
  state_dir: z.string().default("/var/lib/jarvis-agent"),
  groups: z.array(z.string()).default([]),
  heartbeat_seconds: z.number().positive().default(10),
  facts: z
    .strictObject({
      static: z.record(z.string(), z.unknown()).default({}),
      /** Executables whose JSON or YAML output becomes the fact named after the file. */
      dir: z.string().optional(),
      refresh_seconds: z.number().positive().default(300),
      /** Collect packages (dpkg-query/rpm) and listening services; off on emulated agents. */
      system: z.boolean().default(true),
    })
    .prefault({}),
  allow: z
    .strictObject({
      operations: z.array(z.enum(OPERATION_KINDS)).default(["ping", "facts", "cancel"]),
      /** Globs (`*` any text) a whole `execute` command must match; absent: any command. */
      commands: z.array(z.string()).optional(),
    })
    .prefault({}),
  service: z
    .strictObject({
      status: argv.default(["systemctl", "is-active", "--quiet", "{name}"]),
      start: argv.default(["systemctl", "start", "{name}"]),
      stop: argv.default(["systemctl", "stop", "{name}"]),
      restart: argv.default(["systemctl", "restart", "{name}"]),
    })
    .prefault({}),
  /** Longest time any operation may run, whatever the request asks. */
  max_timeout_seconds: z.number().positive().default(3600),
  /** Files and folders (recursively) whose changes become `file_changed` events. */
  watch: z.array(z.string().min(1)).default([]),
  /** Quiet time after a burst of changes before its events go out (one per changed file). */
  watch_settle_seconds: z.number().positive().default(1),
  /** Programs whose output (or exit status) becomes events: events.d and agent.yml probes. */
  events: z
    .strictObject({
      dir: z.string().optional(),
      interval_seconds: z.number().positive().default(60),
    })
    .prefault({}),
  probes: z
    .array(
      z.strictObject({
        name: z
          .string()
          .regex(/^[A-Za-z0-9_.-]{1,64}$/, { error: "must be a short name (letters, digits, _.-)" }),
        command: argv,
        interval_seconds: z.number().positive().default(60),
        timeout_seconds: z.number().positive().default(30),
        /** The event published when the command starts failing (exit status not 0). */
        event: z.string().regex(EVENT_KIND).default("probe_failed"),
        /** The event published when it succeeds again after failing; absent: none. */
        recovered: z.string().regex(EVENT_KIND).optional(),
      }),
    )
    .default([]),
});

export type AgentYml = z.output<typeof agentYml>;

/** The agent's configuration, paths resolved against agent.yml's folder. */
export interface AgentConfig {
  node: string;
  natsUrls: string[];
  nkeySeed: Uint8Array;
  tls: { ca: string; cert?: string; key?: string } | undefined;
  jarvisPublicKey: string;
  stateDir: string;
  groups: string[];
  heartbeatMs: number;
  facts: { static: Record<string, unknown>; dir: string | undefined; refreshMs: number; system: boolean };
  allow: { operations: Set<OperationKind>; commands: RegExp[] | undefined };
  service: AgentYml["service"];
  maxTimeoutMs: number;
  watch: { paths: string[]; settleMs: number };
  eventsDir: { dir: string | undefined; intervalMs: number };
  probes: ProbeSpec[];
}

export function loadAgentConfig(file: string): AgentConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new AgentError(
      "E_AGENT_CONFIG",
      `cannot read ${file}: ${(err as Error).message}; pass --config agent.yml`,
      { cause: err },
    );
  }
  const parsed = parseYamlMapping(text, file, { maxBytes: 1_000_000 });
  const result = check(agentYml, parsed.value, { lineOf: (p) => parsed.lineOf(p) });
  if (!result.ok) {
    const { path, message } = result.problem;
    throw new AgentError("E_AGENT_CONFIG", `${file}:${parsed.lineOf(path) ?? 1}: ${message}`);
  }
  return buildAgentConfig(result.data, dirname(resolve(file)));
}

export function buildAgentConfig(c: AgentYml, baseDir: string): AgentConfig {
  const path = (p: string): string => resolve(baseDir, p);
  const seedText =
    c.nats.nkey_seed ?? (c.nats.nkey_seed_file ? readSeed(path(c.nats.nkey_seed_file)) : undefined);
  if (!seedText) {
    throw new AgentError(
      "E_AGENT_CONFIG",
      "agent.yml: nats.nkey_seed_file (or nats.nkey_seed) is required; agent:install provisions it",
    );
  }
  const node = c.node ?? hostname().split(".")[0]!;
  return {
    node,
    natsUrls: Array.isArray(c.nats.url) ? c.nats.url : [c.nats.url],
    nkeySeed: new TextEncoder().encode(seedText.trim()),
    tls: c.nats.tls && {
      ca: path(c.nats.tls.ca),
      ...(c.nats.tls.cert ? { cert: path(c.nats.tls.cert) } : {}),
      ...(c.nats.tls.key ? { key: path(c.nats.tls.key) } : {}),
    },
    jarvisPublicKey: c.jarvis_public_key,
    stateDir: path(c.state_dir),
    groups: c.groups,
    heartbeatMs: c.heartbeat_seconds * 1000,
    facts: {
      static: c.facts.static,
      dir: c.facts.dir === undefined ? undefined : path(c.facts.dir),
      refreshMs: c.facts.refresh_seconds * 1000,
      system: c.facts.system,
    },
    allow: { operations: new Set(c.allow.operations), commands: c.allow.commands?.map(globToRegExp) },
    service: c.service,
    maxTimeoutMs: c.max_timeout_seconds * 1000,
    watch: { paths: c.watch.map(path), settleMs: c.watch_settle_seconds * 1000 },
    eventsDir: {
      dir: c.events.dir === undefined ? undefined : path(c.events.dir),
      intervalMs: c.events.interval_seconds * 1000,
    },
    probes: c.probes.map((p) => ({
      name: p.name,
      command: p.command,
      intervalMs: p.interval_seconds * 1000,
      timeoutMs: p.timeout_seconds * 1000,
      event: p.event,
      recovered: p.recovered,
    })),
  };
}

export { agentYml as agentYmlSchema };

function readSeed(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new AgentError("E_AGENT_CONFIG", `cannot read the NKEY seed ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** `apt-get -s *` -> /^apt-get -s .*$/s: only `*` is special, so a pattern reads as written. */
export function globToRegExp(glob: string): RegExp {
  const body = glob
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
  return new RegExp(`^${body}$`, "s");
}
