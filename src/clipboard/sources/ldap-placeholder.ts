/**
 * `cn=<host>` refs name a host's entry in LDAP. Until an LDAP source is configured, they are
 * refused with a message that says what to configure, instead of being mistaken for a file name.
 */
import { SourceError } from "../../errors.js";
import type { DesignSource, FetchedDesign } from "./design-source.js";

/** Stands in for the LDAP source: accepts `cn=` refs and explains that none is configured. */
export class LdapPlaceholderSource implements DesignSource {
  readonly name = "ldap";

  accepts(ref: string): boolean {
    return /^cn=/i.test(ref);
  }

  fetch(ref: string, _signal: AbortSignal): Promise<FetchedDesign> {
    return Promise.reject(
      new SourceError("E_SOURCE_UNCONFIGURED", `${ref}: no LDAP source configured; add sources.ldap to jarvis.yml`),
    );
  }
}
