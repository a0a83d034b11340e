/**
 * `cn=<host>` refs: the host's design read from its LDAP entry under ou=Hosts, each attribute
 * mapped to a clipboard path by jarvis.yml `sources.ldap.attributes`, over `sources.ldap.defaults`.
 * Without `sources.ldap` the refs are refused with a message saying what to configure.
 */
import { dumpYaml } from "../yaml.js";
import { ConfigError, SourceError } from "../../errors.js";
import type { JarvisConfig } from "../../config.js";
import type { DesignSource, FetchedDesign } from "./design-source.js";

/** How one LDAP attribute lands on the clipboard. */
export interface AttributeTarget {
  /** Dotted clipboard path, e.g. `instance.fqdn`. */
  path: string;
  /** string (first value, the default), list (all values), number, boolean. */
  type: "string" | "list" | "number" | "boolean";
}

/** The LDAP source's settings (jarvis.yml `sources.ldap`). */
export interface LdapSourceSettings {
  url: string;
  baseDn: string;
  hostsOu: string;
  bindDn: string;
  /** Name of the environment variable holding the bind password. */
  passwordEnv: string;
  timeoutMs: number;
  attributes: Record<string, AttributeTarget>;
  defaults: Record<string, unknown>;
}

/** Default attribute mapping: what ldap:update_host_ou writes, and the host's name. */
export const DEFAULT_SOURCE_ATTRIBUTES: Record<string, AttributeTarget> = {
  cn: { path: "instance.hostname", type: "string" },
  associatedDomain: { path: "instance.fqdn", type: "string" },
  ipHostNumber: { path: "ldap.ip_addresses", type: "list" },
  info: { path: "ldap.fingerprints", type: "list" },
  description: { path: "ldap.description", type: "string" },
};

/** Build the design source for `cn=` refs from the configuration (unconfigured: refuses them). */
export function createLdapSource(config: JarvisConfig, env: NodeJS.ProcessEnv = process.env): DesignSource {
  const sources = config.raw.sources as Record<string, unknown> | undefined;
  const raw = sources && typeof sources === "object" ? sources.ldap : undefined;
  return new LdapSource(raw === undefined || raw === null ? undefined : parseSettings(raw, config), env);
}

/** The LDAP design source. */
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

function parseSettings(raw: unknown, config: JarvisConfig): LdapSourceSettings {
  const where = (...path: string[]): string =>
    `${config.file ?? "jarvis.yml"}:${config.lineOf(["sources", "ldap", ...path]) ?? 1}`;
  if (typeof raw !== "object" || Array.isArray(raw) || raw === null)
    throw new ConfigError(
      "E_CONFIG_FIELD",
      `${where()}: sources.ldap must be a mapping (url, base_dn, bind_dn, ...)`,
    );
  const r = raw as Record<string, unknown>;
  const text = (key: string, fallback?: string): string => {
    const v = r[key] ?? fallback;
    if (typeof v !== "string" || v === "")
      throw new ConfigError(
        "E_CONFIG_FIELD",
        `${where(key)}: sources.ldap.${key} must be set (a non-empty string)`,
      );
    return v;
  };
  if (r.password !== undefined)
    throw new ConfigError(
      "E_CONFIG_FIELD",
      `${where("password")}: sources.ldap.password is not read; put the password in the environment variable named by sources.ldap.password_env`,
    );
  const url = text("url");
  if (!/^ldaps?:\/\//.test(url))
    throw new ConfigError(
      "E_CONFIG_FIELD",
      `${where("url")}: sources.ldap.url must start with ldap:// or ldaps://`,
    );
  const timeout = r.timeout_seconds ?? 10;
  if (typeof timeout !== "number" || !(timeout > 0))
    throw new ConfigError(
      "E_CONFIG_FIELD",
      `${where("timeout_seconds")}: sources.ldap.timeout_seconds must be a number above 0`,
    );
  const attributes: Record<string, AttributeTarget> = { ...DEFAULT_SOURCE_ATTRIBUTES };
  const mapped = r.attributes ?? {};
  if (typeof mapped !== "object" || Array.isArray(mapped) || mapped === null)
    throw new ConfigError(
      "E_CONFIG_FIELD",
      `${where("attributes")}: sources.ldap.attributes must map attribute names to clipboard paths`,
    );
  for (const [attr, target] of Object.entries(mapped as Record<string, unknown>)) {
    const t =
      typeof target === "string"
        ? { path: target, type: "string" }
        : (target as Record<string, unknown> | null);
    if (
      !t ||
      typeof t.path !== "string" ||
      !/^[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*$/.test(t.path) ||
      !["string", "list", "number", "boolean", undefined].includes(t.type as string)
    ) {
      throw new ConfigError(
        "E_CONFIG_FIELD",
        `${where("attributes", attr)}: sources.ldap.attributes.${attr} must be a clipboard path or {path, type: string|list|number|boolean}`,
      );
    }
    attributes[attr] = { path: t.path, type: (t.type as AttributeTarget["type"] | undefined) ?? "string" };
  }
  const defaults = r.defaults ?? {};
  if (typeof defaults !== "object" || Array.isArray(defaults) || defaults === null)
    throw new ConfigError(
      "E_CONFIG_FIELD",
      `${where("defaults")}: sources.ldap.defaults must be a mapping (e.g. instance: {provider: local})`,
    );
  return {
    url,
    baseDn: text("base_dn"),
    hostsOu: text("hosts_ou", "ou=Hosts"),
    bindDn: text("bind_dn"),
    passwordEnv: text("password_env", "LDAP_BIND_PASSWORD"),
    timeoutMs: timeout * 1000,
    attributes,
    defaults: defaults as Record<string, unknown>,
  };
}
