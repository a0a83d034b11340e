/**
 * jarvis.yml's `sources:` section (how designs are fetched), described once: the http sources'
 * timeout, the gist API root, and the LDAP source's settings (`sources.ldap`).
 */
import { z } from "zod";
import { DEFAULT_GIST_API } from "./gist-source.js";
import { DEFAULT_HTTP_TIMEOUT_MS } from "./url-source.js";

/** How one LDAP attribute lands on the clipboard. */
export interface AttributeTarget {
  /** Dotted clipboard path, e.g. `instance.fqdn`. */
  path: string;
  /** string (first value, the default), list (all values), number, boolean. */
  type: "string" | "list" | "number" | "boolean";
}

/** Default attribute mapping: what ldap:update_host_ou writes, and the host's name. */
export const DEFAULT_SOURCE_ATTRIBUTES: Record<string, AttributeTarget> = {
  cn: { path: "instance.hostname", type: "string" },
  associatedDomain: { path: "instance.fqdn", type: "string" },
  ipHostNumber: { path: "ldap.ip_addresses", type: "list" },
  info: { path: "ldap.fingerprints", type: "list" },
  description: { path: "ldap.description", type: "string" },
};

const DEFAULT_HTTP_TIMEOUT_SECONDS = DEFAULT_HTTP_TIMEOUT_MS / 1000;

const required = (what: string) =>
  z.string({ error: `must be set (${what})` }).min(1, { error: `must be set (${what})` });

const CLIPBOARD_PATH = /^[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*$/;
const targetError = "must be a clipboard path or {path, type: string|list|number|boolean}";
const attributeTarget = z.union(
  [
    z
      .string()
      .regex(CLIPBOARD_PATH)
      .transform((path): AttributeTarget => ({ path, type: "string" })),
    z
      .strictObject({
        path: z.string().regex(CLIPBOARD_PATH),
        type: z.enum(["string", "list", "number", "boolean"]).default("string"),
      })
      .transform((t): AttributeTarget => t),
  ],
  { error: targetError },
);

const ldapSettings = z
  .strictObject(
    {
      url: z
        .string({ error: "must be set (a non-empty string)" })
        .regex(/^ldaps?:\/\//, { error: "must start with ldap:// or ldaps://" }),
      base_dn: required("a DN such as dc=example,dc=test"),
      bind_dn: required("a DN such as cn=jarvis,dc=example,dc=test"),
      hosts_ou: required("an RDN such as ou=Hosts").default("ou=Hosts"),
      password_env: required("the name of the environment variable with the bind password").default(
        "LDAP_BIND_PASSWORD",
      ),
      // Named only to say where the password goes instead: a file is no place for it.
      password: z
        .never({
          error:
            "is not read; put the password in the environment variable named by sources.ldap.password_env",
        })
        .optional(),
      timeout_seconds: z
        .number({ error: "must be a number above 0" })
        .positive({ error: "must be a number above 0" })
        .default(10),
      attributes: z
        .record(z.string(), attributeTarget, {
          error: "must map attribute names to clipboard paths",
        })
        .default({}),
      defaults: z
        .record(z.string(), z.unknown(), {
          error: "must be a mapping (e.g. instance: {provider: local})",
        })
        .default({}),
    },
    {
      error: (iss) =>
        iss.code === "invalid_type" ? "must be a mapping (url, base_dn, bind_dn, ...)" : undefined,
    },
  )
  .transform((r) => ({
    url: r.url,
    baseDn: r.base_dn,
    hostsOu: r.hosts_ou,
    bindDn: r.bind_dn,
    passwordEnv: r.password_env,
    timeoutMs: r.timeout_seconds * 1000,
    attributes: { ...DEFAULT_SOURCE_ATTRIBUTES, ...r.attributes },
    defaults: r.defaults,
  }));

/** The LDAP source's settings (jarvis.yml `sources.ldap`). */
export type LdapSourceSettings = z.output<typeof ldapSettings>;

export const sourcesSchema = z
  .strictObject({
    timeout_seconds: z
      .number({ error: "must be a number of seconds above 0" })
      .positive({ error: "must be a number of seconds above 0" })
      .default(DEFAULT_HTTP_TIMEOUT_SECONDS),
    gist: z
      .strictObject({
        api: z
          .string()
          .regex(/^https?:\/\/[^\s]+$/i, { error: `must be an http(s) URL such as ${DEFAULT_GIST_API}` })
          .default(DEFAULT_GIST_API),
      })
      .nullish()
      .transform((g) => g ?? { api: DEFAULT_GIST_API }),
    ldap: ldapSettings.nullish().transform((l) => l ?? undefined),
  })
  .nullish()
  .transform((s) => ({
    timeoutMs: (s?.timeout_seconds ?? DEFAULT_HTTP_TIMEOUT_SECONDS) * 1000,
    gistApi: s?.gist.api ?? DEFAULT_GIST_API,
    ldap: s?.ldap,
  }));

/** The validated `sources:` section. */
export type SourcesConfig = z.output<typeof sourcesSchema>;
