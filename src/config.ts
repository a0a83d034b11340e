/**
 * jarvis.yml: `./jarvis.yml`, or the file named by `--config FILE` / `JARVIS_CONFIG`. Every key is
 * optional: with no file at all jarvis runs on embedded defaults (console chat, SQLite under
 * .state/, the local provider). This file validates the core keys; each plug-in section (chat,
 * acl, sources, modules, local, providers) is kept as written and validated by the code that owns
 * it, so every section's errors come from the one place that understands it.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { ConfigError } from "./errors.js";
import { parseYamlMapping } from "./clipboard/yaml.js";
import type { ParsedYaml } from "./clipboard/yaml.js";

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
  /** Which RunStore (src/store/registry.ts) and where it keeps its data. */
  store: { kind: string; path: string };
  steps: { dirs: string[] };
  pipelines: { dirs: string[] };
  redact: { keys: string[] };
  /** How long a process's claim on a run lasts without renewal. */
  leaseMs: number;
  /** Per-module step defaults, by module name. */
  modules: Record<string, ModuleConfig>;
  /** The whole document as written, for sections validated by their owners. */
  raw: Record<string, unknown>;
  /** Line numbers in the file, for owners' error messages. */
  lineOf(path: readonly (string | number)[]): number | undefined;
}

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
    parsed = parseYamlMapping(readFileSync(file), file, { maxBytes: 1024 * 1024 });
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
  const where = (path: (string | number)[]): string => `${file ?? "jarvis.yml"}:${parsed?.lineOf(path) ?? 1}`;
  const section = (key: string): Record<string, unknown> => {
    const value = raw[key];
    if (value === undefined || value === null) return {};
    if (typeof value !== "object" || Array.isArray(value)) {
      throw new ConfigError("E_CONFIG_FIELD", `${where([key])}: ${key} must be a mapping`);
    }
    return value as Record<string, unknown>;
  };
  const stringList = (key: string, sub: string, fallback: string[]): string[] => {
    const value = section(key)[sub];
    if (value === undefined) return fallback.map((p) => resolve(baseDir, p));
    if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
      throw new ConfigError("E_CONFIG_FIELD", `${where([key, sub])}: ${key}.${sub} must be a list of paths`);
    }
    return value.map((p) => resolve(baseDir, p));
  };
  const storePath = section("store").path ?? env.JARVIS_STORE ?? ".state/jarvis.sqlite";
  if (typeof storePath !== "string") {
    throw new ConfigError("E_CONFIG_FIELD", `${where(["store", "path"])}: store.path must be a file path`);
  }
  const storeKind = section("store").kind ?? "sqlite";
  if (typeof storeKind !== "string") {
    throw new ConfigError(
      "E_CONFIG_FIELD",
      `${where(["store", "kind"])}: store.kind must be a store name (sqlite)`,
    );
  }
  const redactKeys = section("redact").keys;
  if (
    redactKeys !== undefined &&
    (!Array.isArray(redactKeys) || !redactKeys.every((k) => typeof k === "string"))
  ) {
    throw new ConfigError(
      "E_CONFIG_FIELD",
      `${where(["redact", "keys"])}: redact.keys must be a list of key names`,
    );
  }
  const leaseSeconds = section("engine").lease_seconds ?? 30;
  if (typeof leaseSeconds !== "number" || leaseSeconds < 2) {
    throw new ConfigError(
      "E_CONFIG_FIELD",
      `${where(["engine", "lease_seconds"])}: engine.lease_seconds must be a number of seconds, at least 2`,
    );
  }
  return {
    file,
    baseDir,
    store: { kind: storeKind, path: storePath === ":memory:" ? storePath : resolve(baseDir, storePath) },
    // The steps shipped with jarvis (steps/ in the package) are always found, after the configured ones.
    steps: { dirs: unique([...stringList("steps", "dirs", ["steps"]), resolve(packageRoot(), "steps")]) },
    // Unless configured, the pipelines next to jarvis.yml, then the ones shipped with jarvis.
    pipelines: {
      dirs: unique(stringList("pipelines", "dirs", ["pipelines", resolve(packageRoot(), "pipelines")])),
    },
    redact: { keys: [...DEFAULT_REDACT_KEYS, ...((redactKeys as string[] | undefined) ?? [])] },
    leaseMs: leaseSeconds * 1000,
    modules: parseModules(section("modules"), where, env),
    raw,
    lineOf: (path) => parsed?.lineOf(path),
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

function parseModules(
  modules: Record<string, unknown>,
  where: (path: (string | number)[]) => string,
  env: NodeJS.ProcessEnv,
): Record<string, ModuleConfig> {
  const out: Record<string, ModuleConfig> = {};
  for (const [name, value] of Object.entries(modules)) {
    if (!value || typeof value !== "object" || Array.isArray(value)) {
      throw new ConfigError(
        "E_CONFIG_FIELD",
        `${where(["modules", name])}: modules.${name} must be a mapping with 'with' and/or 'env'`,
      );
    }
    const { with: params = {}, env: stepEnv = {}, ...rest } = value as Record<string, unknown>;
    const unknownKey = Object.keys(rest)[0];
    if (unknownKey) {
      throw new ConfigError(
        "E_CONFIG_FIELD",
        `${where(["modules", name, unknownKey])}: modules.${name}.${unknownKey} is not a known key (use 'with' or 'env')`,
      );
    }
    if (!params || typeof params !== "object" || Array.isArray(params)) {
      throw new ConfigError(
        "E_CONFIG_FIELD",
        `${where(["modules", name, "with"])}: modules.${name}.with must be a mapping of parameters`,
      );
    }
    if (!stepEnv || typeof stepEnv !== "object" || Array.isArray(stepEnv)) {
      throw new ConfigError(
        "E_CONFIG_FIELD",
        `${where(["modules", name, "env"])}: modules.${name}.env must be a mapping of variable names to values`,
      );
    }
    const envOut: Record<string, string> = {};
    for (const [key, v] of Object.entries(stepEnv as Record<string, unknown>)) {
      if (typeof v !== "string" && typeof v !== "number") {
        throw new ConfigError(
          "E_CONFIG_FIELD",
          `${where(["modules", name, "env", key])}: modules.${name}.env.${key} must be a string`,
        );
      }
      envOut[key] = expandEnv(String(v), env, where(["modules", name, "env", key]));
    }
    out[name] = { with: params as Record<string, unknown>, env: envOut };
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
