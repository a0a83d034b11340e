/**
 * Connecting and binding to LDAP with ldapts, with the failures operators meet turned into
 * messages that say what to check: refused bind, unreachable server, timeout. Shared by the
 * ldap step and the `cn=<host>` design source.
 */
import { Client, InvalidCredentialsError, NoSuchObjectError } from "ldapts";
import { LdapFailure } from "../errors.js";

/** How to reach and bind to the directory. */
export interface LdapSettings {
  url: string;
  bindDn: string;
  /** The bind password (from the environment, never from a parameter or the clipboard). */
  password: string;
  timeoutMs: number;
}

/** Open a client and bind; the caller must `unbind()` it. */
export async function openLdap(settings: LdapSettings): Promise<Client> {
  if (!/^ldaps?:\/\//.test(settings.url)) {
    throw new LdapFailure(
      "E_LDAP_URL",
      `LDAP url ${settings.url} must start with ldap:// or ldaps://`,
      false,
    );
  }
  const client = new Client({
    url: settings.url,
    timeout: settings.timeoutMs,
    connectTimeout: settings.timeoutMs,
  });
  try {
    await client.bind(settings.bindDn, settings.password);
    return client;
  } catch (err) {
    await client.unbind().catch(() => undefined);
    throw classifyLdapError(err, settings);
  }
}

/** Turn an ldapts or socket error into an LdapFailure naming the server and what to check. */
export function classifyLdapError(err: unknown, settings: Pick<LdapSettings, "url" | "bindDn">): LdapFailure {
  if (err instanceof LdapFailure) return err;
  if (err instanceof InvalidCredentialsError) {
    return new LdapFailure(
      "E_LDAP_BIND",
      `LDAP bind refused for ${settings.bindDn} at ${settings.url}: check the bind DN and the password in jarvis's environment`,
      false,
    );
  }
  if (err instanceof NoSuchObjectError) {
    return new LdapFailure(
      "E_LDAP_NO_SUCH_OBJECT",
      `LDAP at ${settings.url}: no such entry (${(err as Error).message}); check the base DN`,
      false,
    );
  }
  const e = err as NodeJS.ErrnoException;
  const text = e?.message ?? String(err);
  if (
    e?.code === "ECONNREFUSED" ||
    e?.code === "ECONNRESET" ||
    e?.code === "EHOSTUNREACH" ||
    e?.code === "ENOTFOUND" ||
    /timeout|timed out|ECONNREFUSED|closed/i.test(text)
  ) {
    return new LdapFailure(
      "E_LDAP_UNREACHABLE",
      `LDAP server ${settings.url} unreachable (${text}); is it running, and is the url right?`,
      true,
    );
  }
  return new LdapFailure("E_LDAP", `LDAP at ${settings.url} failed: ${text}`, false);
}
