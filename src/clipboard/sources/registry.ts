/**
 * The design sources, listed explicitly (DESIGN.md convention 2) in the order refs are matched:
 * `cn=` (LDAP), `gist:`, http(s) URL, then a file path for anything else.
 */
import type { JarvisConfig } from "../../config.js";
import type { DesignSource } from "./design-source.js";
import { FileSource } from "./file-source.js";
import { GistSource } from "./gist-source.js";
import { LdapSource } from "./ldap-source.js";
import { UrlSource } from "./url-source.js";

/**
 * Build the sources from jarvis.yml's `sources:` section (validated with the rest of the file,
 * see sources-schema.ts), `designs.max_bytes`, and GITHUB_TOKEN from the environment.
 */
export function createDesignSources(
  config: JarvisConfig,
  env: NodeJS.ProcessEnv = process.env,
): DesignSource[] {
  const { maxBytes } = config.designs;
  const limits = { timeoutMs: config.sources.timeoutMs, maxBytes };
  const token = env.GITHUB_TOKEN?.trim();
  return [
    new LdapSource(config.sources.ldap, env),
    new GistSource({ ...limits, api: config.sources.gistApi, token: token === "" ? undefined : token }),
    new UrlSource(limits),
    new FileSource({ maxBytes, designsDirs: config.designs.dirs }),
  ];
}
