/**
 * `cn=<host>` refs: the host's design read from its LDAP entry under ou=Hosts, each attribute
 * mapped to a clipboard path by jarvis.yml `sources.ldap.attributes`, over `sources.ldap.defaults`.
 * Without `sources.ldap` the refs are refused with a message saying what to configure.
 */
import { dumpYaml } from "../yaml.js";
import { SourceError } from "../../errors.js";
import type { JarvisConfig } from "../../config.js";
import type { DesignSource, FetchedDesign } from "./design-source.js";
import type { LdapSourceSettings } from "./sources-schema.js";

/** Build the design source for `cn=` refs from the configuration (unconfigured: refuses them). */
export function createLdapSource(config: JarvisConfig, env: NodeJS.ProcessEnv = process.env): DesignSource {
  return new LdapSource(config.sources.ldap, env);
}

export class LdapSource implements DesignSource {
  readonly name = "ldap";
  constructor(
    private readonly settings: LdapSourceSettings | undefined,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  accepts(ref: string): boolean {
    return /^cn=/i.test(ref);
  }

  async fetch(ref: string, _signal: AbortSignal): Promise<FetchedDesign> {
    const s = this.settings;
    if (!s)
      throw new SourceError(
        "E_SOURCE_UNCONFIGURED",
        `${ref}: no LDAP source configured; add sources.ldap to jarvis.yml`,
      );
    const host = ref.slice(3);
    if (host === "" || /[,=+]/.test(host)) {
      throw new SourceError(
        "E_SOURCE_REF",
        `${ref}: expected cn=<host> with a plain host name (the entry is looked up under ${s.hostsOu},${s.baseDn})`,
      );
    }
    const password = this.env[s.passwordEnv];
    if (!password)
      throw new SourceError(
        "E_SOURCE_UNCONFIGURED",
        `${ref}: ${s.passwordEnv} is not set; export the LDAP bind password before starting jarvis`,
      );
    // ldapts is loaded only when an LDAP design is asked for, to keep jarvis's start-up lean.
    const { openLdap, classifyLdapError } = await import("../../workers/ldap-connect.js");
    const { hostDn } = await import("../../workers/ldap-entry.js");
    const { NoSuchObjectError } = await import("ldapts");
    const dn = hostDn(host, s.hostsOu, s.baseDn);
    const ldap = { url: s.url, bindDn: s.bindDn, password, timeoutMs: s.timeoutMs };
    let entry: Record<string, unknown> | undefined;
    try {
      const client = await openLdap(ldap);
      try {
        const { searchEntries } = await client.search(dn, {
          scope: "base",
          attributes: Object.keys(s.attributes),
        });
        entry = searchEntries[0];
      } finally {
        await client.unbind().catch(() => undefined);
      }
    } catch (err) {
      if (err instanceof NoSuchObjectError) entry = undefined;
      else {
        const f = classifyLdapError(err, ldap);
        const code =
          f.code === "E_LDAP_BIND"
            ? "E_SOURCE_LDAP_BIND"
            : f.code === "E_LDAP_UNREACHABLE"
              ? "E_SOURCE_UNREACHABLE"
              : "E_SOURCE_LDAP";
        throw new SourceError(code, `${ref}: ${f.message}`, { retryable: f.retryable, cause: err });
      }
    }
    if (!entry) {
      throw new SourceError(
        "E_SOURCE_NOT_FOUND",
        `${ref}: no entry ${dn} in LDAP at ${s.url}; check the host name or sources.ldap.base_dn/hosts_ou`,
      );
    }
    return { text: dumpYaml(designFromEntry(entry, s)), origin: `${s.url.replace(/\/+$/, "")}/${dn}` };
  }
}

/** Map an entry's attributes onto a design (exported for tests). */
export function designFromEntry(
  entry: Record<string, unknown>,
  s: Pick<LdapSourceSettings, "attributes" | "defaults">,
): Record<string, unknown> {
  const design = structuredClone(s.defaults);
  const lower = new Map(Object.entries(entry).map(([k, v]) => [k.toLowerCase(), v]));
  for (const [attr, target] of Object.entries(s.attributes)) {
    const raw = lower.get(attr.toLowerCase());
    const values = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).map((v) =>
      Buffer.isBuffer(v) ? v.toString("utf8") : String(v),
    );
    if (values.length === 0) continue;
    const first = values[0]!;
    const value =
      target.type === "list"
        ? values
        : target.type === "number"
          ? Number.isFinite(Number(first))
            ? Number(first)
            : first
          : target.type === "boolean"
            ? /^(true|yes|1|production)$/i.test(first)
            : first;
    setPath(design, target.path, value);
  }
  return design;
}

function setPath(root: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split(".");
  let node = root;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (!next || typeof next !== "object" || Array.isArray(next)) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]!] = value;
}
