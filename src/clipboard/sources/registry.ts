/**
 * The design sources, listed explicitly (DESIGN.md convention 2) in the order refs are matched:
 * `cn=` (LDAP), `gist:`, http(s) URL, then a file path for anything else.
 */
import { ConfigError } from "../../errors.js";
import type { JarvisConfig } from "../../config.js";
import type { DesignSource } from "./design-source.js";
import { FileSource } from "./file-source.js";
import { DEFAULT_GIST_API, GistSource } from "./gist-source.js";
import { createLdapSource } from "./ldap-source.js";
import { DEFAULT_HTTP_TIMEOUT_MS, UrlSource } from "./url-source.js";

/**
 * Build the sources from jarvis.yml's `sources:` section (`timeout_seconds`, `gist.api`), its
 * `designs:` section (the one size limit of every source, the dirs chat may read files from) and
 * GITHUB_TOKEN from the environment.
 */
export function createDesignSources(
  config: JarvisConfig,
  env: NodeJS.ProcessEnv = process.env,
): DesignSource[] {
  const where = (path: string[]): string =>
    `${config.file ?? "jarvis.yml"}:${config.lineOf(["sources", ...path]) ?? 1}`;
  const section = mapping(config.raw.sources, "sources", where([]));
  const gist = mapping(section.gist, "sources.gist", where(["gist"]));
  const timeoutSeconds = section.timeout_seconds ?? DEFAULT_HTTP_TIMEOUT_MS / 1000;
  if (typeof timeoutSeconds !== "number" || !(timeoutSeconds > 0)) {
    throw new ConfigError(
      "E_CONFIG_FIELD",
      `${where(["timeout_seconds"])}: sources.timeout_seconds must be a number of seconds above 0`,
    );
  }
  // One size limit for designs from every source and every command (validate and step too).
  if (section.max_bytes !== undefined) {
    throw new ConfigError(
      "E_CONFIG_FIELD",
      `${where(["max_bytes"])}: sources.max_bytes is now designs.max_bytes (one limit for every source and command); move it there`,
    );
  }
  const maxBytes = config.designs.maxBytes;
  const api = gist.api ?? DEFAULT_GIST_API;
  if (typeof api !== "string" || !/^https?:\/\/[^\s]+$/i.test(api)) {
    throw new ConfigError(
      "E_CONFIG_FIELD",
      `${where(["gist", "api"])}: sources.gist.api must be an http(s) URL such as ${DEFAULT_GIST_API}`,
    );
  }
  const limits = { timeoutMs: timeoutSeconds * 1000, maxBytes };
  const token = env.GITHUB_TOKEN?.trim();
  return [
    createLdapSource(config, env),
    new GistSource({ ...limits, api, token: token === "" ? undefined : token }),
    new UrlSource(limits),
    new FileSource({ maxBytes, designsDirs: config.designs.dirs }),
  ];
}

function mapping(value: unknown, name: string, where: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new ConfigError("E_CONFIG_FIELD", `${where}: ${name} must be a mapping`);
  }
  return value as Record<string, unknown>;
}
