/**
 * What the host's LDAP entry holds, computed from the clipboard: its DN under ou=Hosts and the
 * attributes named by the configurable mapping. Pure functions, so the mapping is unit-testable
 * without a server; ldap.ts does the I/O.
 */
import { StepFailure, requireField } from "../step-sdk/define-step.js";
import type { Clipboard } from "../step-sdk/define-step.js";
import { hostAddress } from "../providers/host-address.js";

/** Which LDAP attribute holds each fact jarvis records (jarvis.yml `modules.ldap.with.attributes`). */
export interface AttributeMapping {
  /** The host's IP addresses. */
  address: string;
  /** The SSH host key fingerprints (SHA256:...). */
  fingerprints: string;
  /** A line saying how jarvis last left the host. */
  state: string;
}

/** Default mapping: RFC 2307 ipHostNumber, cosine's info, and description. */
export const DEFAULT_MAPPING: AttributeMapping = {
  address: "ipHostNumber",
  fingerprints: "info",
  state: "description",
};

/** Default object classes of a new entry: device + ipHost, extensibleObject for `info`. */
export const DEFAULT_OBJECT_CLASSES = ["top", "device", "ipHost", "extensibleObject"];

/** Escape a value for use in an RDN (RFC 4514 2.4). */
export function escapeRdnValue(value: string): string {
  let out = value
    .replace(/[\\,+"<>;=#]/g, (c) => `\\${c}`)
    .replace(/[\0-\x1f]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
  if (out.startsWith(" ")) out = `\\${out}`;
  if (out.endsWith(" ") && out.length > 1) out = `${out.slice(0, -1)}\\ `;
  return out;
}

/** The host entry's DN: `cn=<host>,<hosts_ou>,<base_dn>`. */
export function hostDn(hostname: string, hostsOu: string, baseDn: string): string {
  return `cn=${escapeRdnValue(hostname)},${hostsOu},${baseDn}`;
}

/** Read the attribute mapping from parameters, falling back to the defaults per key. */
export function mappingFrom(params: Record<string, unknown>): AttributeMapping {
  const raw = params.attributes;
  if (raw === undefined) return DEFAULT_MAPPING;
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
    throw new StepFailure(
      "E_STEP_PARAMS",
      "ldap: modules.ldap.with.attributes must map address/fingerprints/state to attribute names",
    );
  }
  const out: AttributeMapping = { ...DEFAULT_MAPPING };
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (!(key in DEFAULT_MAPPING)) {
      throw new StepFailure(
        "E_STEP_PARAMS",
        `ldap: modules.ldap.with.attributes.${key} is not known; use address, fingerprints or state`,
      );
    }
    if (typeof value !== "string" || !/^[A-Za-z][A-Za-z0-9-]*$/.test(value)) {
      throw new StepFailure(
        "E_STEP_PARAMS",
        `ldap: modules.ldap.with.attributes.${key} must be an attribute name`,
      );
    }
    out[key as keyof AttributeMapping] = value;
  }
  return out;
}

/** The attributes jarvis sets on the host's entry (each replaced as a whole on update). */
export function hostAttributes(clipboard: Clipboard, mapping: AttributeMapping): Record<string, string[]> {
  requireField(clipboard, "instance.hostname", "string");
  const host = hostAddress(clipboard);
  const section = clipboard[host.provider] as Record<string, unknown>;
  const addresses = [section.ipv4, section.ipv6].filter(
    (a): a is string => typeof a === "string" && a !== "",
  );
  const fingerprints = requireField(clipboard, "ssh.fingerprints", "array") as unknown[];
  const state = typeof section.state === "string" ? section.state : "unknown";
  const attrs: Record<string, string[]> = {};
  const put = (name: string, values: string[]): void => {
    attrs[name] = [...(attrs[name] ?? []), ...values];
  };
  put(mapping.address, addresses);
  put(mapping.fingerprints, fingerprints.map(String));
  put(mapping.state, [`deployed by jarvis with provider ${host.provider}, ${state}`]);
  return attrs;
}
