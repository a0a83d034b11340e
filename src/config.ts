/**
 * jarvis.yml: `./jarvis.yml`, or the file named by `--config FILE` / `JARVIS_CONFIG`. Every key is
 * optional: with no file at all jarvis runs on embedded defaults (console chat, SQLite under
 * .state/, the local provider). The whole file is described by zod schemas, checked when it is
 * loaded: an unknown key anywhere is refused with its line and the nearest known key, and
 * `modules.<m>.with` is checked against module m's parameter schema. The chat and acl sections
 * are described by bot/chat-schema.ts and checked here too; their `${VAR}` secrets are expanded
 * only when chat starts (bot/chat-config.ts).
 */
import { agentsSchema, buildAgentsConfig } from "./nodes/agents-config.js";
import type { AgentsConfig } from "./nodes/agents-config.js";
import { natsEndpointFrom, natsEndpointSchema } from "./cluster/nats-endpoint.js";
import type { NatsEndpoint } from "./cluster/nats-endpoint.js";
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { z } from "zod";
import { ConfigError } from "./errors.js";
import { parseYamlMapping } from "./clipboard/yaml.js";
import type { ParsedYaml } from "./clipboard/yaml.js";
import { sourcesSchema } from "./clipboard/sources/sources-schema.js";
import type { SourcesConfig } from "./clipboard/sources/sources-schema.js";
import { DEFAULT_DESIGN_MAX_BYTES } from "./clipboard/sources/design-source.js";
import { checkStepParams } from "./pipeline/step-params.js";
import { check } from "./schema/schema-problem.js";
import type { DocPath } from "./schema/schema-problem.js";
import { checkChatSections } from "./bot/chat-schema.js";
import type { ChatSettings } from "./bot/chat-schema.js";
import { readFileBoundedSync } from "./io/bounded-read.js";
import { apiSchema, apiSettings } from "./schema/api-schema.js";
import type { ApiSettings } from "./schema/api-schema.js";
import { scheduleSettings, schedulesSchema } from "./schema/schedules-schema.js";
import { buildRules, rulesSchema } from "./events/rules-schema.js";
import type { EventRule } from "./events/rules-schema.js";
import type { ScheduleSettings } from "./schema/schedules-schema.js";

/** Largest jarvis.yml read; real ones are a few KiB. */
const MAX_CONFIG_BYTES = 1024 * 1024;

/** Keys whose values are secrets by default, wherever they appear in a clipboard or log. */
export const DEFAULT_REDACT_KEYS = [
  "password",
  "passwd",
  "secret",
  "token",
  "private_key",
  "key_secret",
  "api_key",
  "credentials",
];

/** Defaults a step module gets from jarvis.yml: parameters and environment (its secrets). */
export interface ModuleConfig {
  /** Default parameters, overridden by the pipeline's `with`. */
  with: Record<string, unknown>;
  /** Environment for the step; `${VAR}` values are read from jarvis's own environment. */
  env: Record<string, string>;
}

/** The validated configuration. */
export interface JarvisConfig {
  /** The file it came from, or undefined for embedded defaults. */
  file: string | undefined;
  /** Directory relative paths are taken from (the config file's, else the working directory). */
  baseDir: string;
  /**
   * Which RunStore (src/store/registry.ts) and where it keeps its data: `path` for SQLite, `url`
   * (with `${VAR}` expanded, so the password can stay in the environment) for PostgreSQL.
   */
  store: { kind: string; path: string; url?: string };
  steps: { dirs: string[] };
  pipelines: { dirs: string[] };
  /** Where chat (and the API) may read design files from, and how large a design may be. */
  designs: { dirs: string[]; maxBytes: number };
  redact: { keys: string[] };
  /** How long a process's claim on a run lasts without renewal. */
  leaseMs: number;
  /** Per-module step defaults, by module name. */
  modules: Record<string, ModuleConfig>;
  /** Where steps run (`executor:`): forked here, or by `jarvis worker`s over NATS JetStream. */
  executor: { kind: "local" } | { kind: "nats"; bus: NatsEndpoint };
  /**
   * `cluster:`: replicas of `jarvis start` sharing one store hold each chat network through a lease
   * on this NATS (cluster.nats.url, else executor.nats.url); undefined: no NATS, one replica.
   */
  cluster: { bus: NatsEndpoint; chatLeaseMs: number } | undefined;
  /** How designs are fetched (`sources:`). */
  sources: SourcesConfig;
  /** `chat:` and `acl:`, checked; secrets not yet read from the environment. */
  chat: ChatSettings;
  /** `api:`: the HTTP API's address, TLS and tokens (secrets not yet read from the environment). */
  api: ApiSettings;
  /** `schedules:`: the misfire grace and how often due schedules are looked for. */
  schedules: ScheduleSettings;
  /** `agents:`: the agents' bus and the job signing key; undefined: no agents. */
  agents: AgentsConfig | undefined;
  /** `rules:`: agents' events that start pipelines on their nodes (needs `agents:`). */
  rules: EventRule[];
  /** Line numbers in the file, for owners' error messages. */
  lineOf(path: readonly (string | number)[]): number | undefined;
}

const pathList = (what: string) =>
  z.array(z.string({ error: `must be a list of paths` }), { error: `must be a list of paths (${what})` });

const moduleSchema = z.strictObject(
  {
    with: z.record(z.string(), z.unknown(), { error: "must be a mapping of parameters" }).nullish(),
    env: z
      .record(z.string(), z.union([z.string(), z.number()]), {
        error: "must be a mapping of variable names to values (strings)",
      })
      .nullish(),
  },
  {
    error: (iss) => (iss.code === "invalid_type" ? "must be a mapping with 'with' and/or 'env'" : undefined),
  },
);

/** Every key jarvis.yml may have. Sections may be empty (`store:` alone). */
const jarvisYml = z.strictObject({
  store: z
    .strictObject({
      kind: z.enum(["sqlite", "postgres"], { error: "must be a store jarvis has: sqlite, postgres" }),
      path: z.string({ error: "must be a file path" }).min(1, { error: "must be a file path" }),
      url: z
        .string({ error: "must be a postgres:// URL" })
        .regex(/^postgres(ql)?:\/\//, { error: "must be a postgres:// URL" }),
    })
    .partial()
    .nullish(),
  steps: z
    .strictObject({ dirs: pathList("directories of step executables") })
    .partial()
    .nullish(),
  pipelines: z
    .strictObject({ dirs: pathList("directories of pipeline files") })
    .partial()
    .nullish(),
  designs: z
    .strictObject({
      dirs: pathList("directories chat may read designs from"),
      max_bytes: z
        .int({ error: "must be a whole number of bytes" })
        .positive({ error: "must be a whole number of bytes" }),
    })
    .partial()
    .nullish(),
  redact: z
    .strictObject({ keys: z.array(z.string(), { error: "must be a list of key names" }) })
    .partial()
    .nullish(),
  engine: z
    .strictObject({
      lease_seconds: z
        .number({ error: "must be a number of seconds, at least 2" })
        .min(2, { error: "must be a number of seconds, at least 2" }),
    })
    .partial()
    .nullish(),
  modules: z
    .record(z.string(), moduleSchema.nullish(), { error: "must be a mapping of module names" })
    .nullish(),
  executor: z.strictObject({ nats: natsEndpointSchema }).partial().nullish(),
  cluster: z
    .strictObject({
      nats: natsEndpointSchema,
      chat_lease_seconds: z
        .number({ error: "must be a number of seconds, from 3 to 60" })
        .min(3, { error: "must be a number of seconds, from 3 to 60" })
        .max(60, { error: "must be a number of seconds, from 3 to 60" }),
    })
    .partial()
    .nullish(),
  sources: sourcesSchema,
  api: apiSchema,
  schedules: schedulesSchema,
  agents: agentsSchema.nullish(),
  rules: rulesSchema,
  // Checked by bot/chat-schema.ts (a network's schema depends on its key).
  chat: z.unknown().optional(),
  acl: z.unknown().optional(),
});

/** Where the configuration is looked for: explicit path, JARVIS_CONFIG, ./jarvis.yml. */
export function configPath(
  explicit: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (explicit) return resolve(explicit);
  if (env.JARVIS_CONFIG) return resolve(env.JARVIS_CONFIG);
  const local = resolve("jarvis.yml");
  return existsSync(local) ? local : undefined;
}

/** Load and validate the configuration; with no file, the embedded defaults. */
export function loadConfig(explicit?: string, env: NodeJS.ProcessEnv = process.env): JarvisConfig {
  const file = configPath(explicit, env);
  let parsed: ParsedYaml | undefined;
  if (file) {
    if (!existsSync(file)) {
      throw new ConfigError(
        "E_CONFIG_MISSING",
        `configuration file ${file} does not exist; create it or drop --config/JARVIS_CONFIG`,
      );
    }
    const text = readFileBoundedSync(file, { maxBytes: MAX_CONFIG_BYTES, what: "configuration file" });
    parsed = parseYamlMapping(text, file, { maxBytes: MAX_CONFIG_BYTES });
  }
  return buildConfig(parsed, file, env);
}

/** Validate an already parsed configuration document (exported for tests). */
export function buildConfig(
  parsed: ParsedYaml | undefined,
  file: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): JarvisConfig {
  const raw = parsed?.value ?? {};
  const baseDir = file ? dirname(file) : process.cwd();
  const lineOf = (path: readonly (string | number)[]): number | undefined => parsed?.lineOf(path);
  const where = (path: DocPath): string => `${file ?? "jarvis.yml"}:${lineOf(path) ?? 1}`;
  const result = check(jarvisYml, raw, { lineOf });
  if (!result.ok) {
    const { path, message } = result.problem;
    throw new ConfigError("E_CONFIG_FIELD", `${where(path)}: ${message}`);
  }
  const c = result.data;
  const chat = checkChatSections(raw, lineOf);
  if (!chat.ok) {
    const { path, message } = chat.problem;
    throw new ConfigError("E_CONFIG_CHAT", `${where(path)}: ${message}`);
  }
  const paths = (list: string[] | undefined, fallback: string[]): string[] =>
    (list ?? fallback).map((p) => resolve(baseDir, p));
  const storePath = c.store?.path ?? env.JARVIS_STORE ?? ".state/jarvis.sqlite";
  const storeUrl =
    c.store?.url === undefined ? undefined : expandEnv(c.store.url, env, where(["store", "url"]));
  const storeKind = c.store?.kind ?? (storeUrl === undefined ? "sqlite" : "postgres");
  if ((storeKind === "postgres") !== (storeUrl !== undefined)) {
    throw new ConfigError(
      "E_CONFIG_FIELD",
      storeKind === "postgres"
        ? `${where(["store", "kind"])}: store.kind postgres needs store.url (postgres://user@host/db)`
        : `${where(["store", "url"])}: store.url is for PostgreSQL; drop store.kind sqlite, or store.url`,
    );
  }
  return {
    file,
    baseDir,
    store: {
      kind: storeKind,
      path: storePath === ":memory:" ? storePath : resolve(baseDir, storePath),
      ...(storeUrl !== undefined ? { url: storeUrl } : {}),
    },
    // The steps shipped with jarvis (steps/ in the package) are always found, after the configured ones.
    steps: { dirs: unique([...paths(c.steps?.dirs, ["steps"]), resolve(packageRoot(), "steps")]) },
    // Unless configured, the pipelines next to jarvis.yml, then the ones shipped with jarvis.
    pipelines: { dirs: unique(paths(c.pipelines?.dirs, ["pipelines", resolve(packageRoot(), "pipelines")])) },
    designs: {
      dirs: unique(paths(c.designs?.dirs, ["designs", resolve(packageRoot(), "examples")])),
      maxBytes: c.designs?.max_bytes ?? DEFAULT_DESIGN_MAX_BYTES,
    },
    redact: { keys: [...DEFAULT_REDACT_KEYS, ...(c.redact?.keys ?? [])] },
    leaseMs: (c.engine?.lease_seconds ?? 30) * 1000,
    modules: buildModules(c.modules ?? {}, where, lineOf, env),
    executor: c.executor?.nats
      ? { kind: "nats", bus: natsEndpointFrom(c.executor.nats, baseDir) }
      : { kind: "local" },
    cluster: clusterSettings(c.cluster, c.executor?.nats, baseDir),
    sources: c.sources,
    agents: buildAgentsConfig(c.agents, baseDir),
    rules: buildRules(c.rules, where),
    chat: chat.data,
    api: apiSettings(c.api, (p) => resolve(baseDir, p)),
    schedules: scheduleSettings(c.schedules),
    lineOf,
  };
}

/** A chat network taken over within 15 s of its holder's death: lease 10 s, looked at every second. */
const DEFAULT_CHAT_LEASE_MS = 10_000;

function clusterSettings(
  cluster: z.output<typeof jarvisYml>["cluster"],
  executor: z.output<typeof natsEndpointSchema> | undefined,
  baseDir: string,
): JarvisConfig["cluster"] {
  const nats = cluster?.nats ?? executor;
  if (nats === undefined) return undefined;
  return {
    bus: natsEndpointFrom(nats, baseDir),
    chatLeaseMs: (cluster?.chat_lease_seconds ?? DEFAULT_CHAT_LEASE_MS / 1000) * 1000,
  };
}

/** Expand `${VAR}` references in a configuration value from the environment. */
export function expandEnv(value: string, env: NodeJS.ProcessEnv, where: string): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
    const found = env[name];
    if (found === undefined) {
      throw new ConfigError(
        "E_CONFIG_ENV",
        `${where}: environment variable ${name} is not set; export it before starting jarvis`,
      );
    }
    return found;
  });
}

/** Module defaults: parameters checked against the module's schema, secrets read from the environment. */
function buildModules(
  modules: Record<string, z.output<typeof moduleSchema> | null | undefined>,
  where: (path: DocPath) => string,
  lineOf: (path: DocPath) => number | undefined,
  env: NodeJS.ProcessEnv,
): Record<string, ModuleConfig> {
  const out: Record<string, ModuleConfig> = {};
  for (const [name, module] of Object.entries(modules)) {
    const params = module?.with ?? {};
    const problem = checkStepParams(name, params, { base: ["modules", name, "with"], lineOf });
    if (problem) throw new ConfigError("E_CONFIG_FIELD", `${where(problem.path)}: ${problem.message}`);
    const envOut: Record<string, string> = {};
    for (const [key, value] of Object.entries(module?.env ?? {})) {
      envOut[key] = expandEnv(String(value), env, where(["modules", name, "env", key]));
    }
    out[name] = { with: params, env: envOut };
  }
  return out;
}

function unique(paths: string[]): string[] {
  return [...new Set(paths)];
}

/** The jarvis package root (where package.json, pipelines/ and examples/ are). */
export function packageRoot(): string {
  // This file is src/config.ts, compiled to dist/src/config.js.
  const here = dirname(new URL(import.meta.url).pathname);
  return here.includes("/dist/") ? resolve(here, "..", "..") : resolve(here, "..");
}
