/**
 * A design: the YAML document that describes a host, loaded onto the clipboard as a run's start.
 * Only the known `instance:` fields are type-checked (from one table, so multi-host designs can
 * reuse it later); any other key is free, since steps add their own sections to the clipboard.
 */
import { DesignError } from "../errors.js";
import { BIDI_CONTROL } from "../text/printable.js";
import type { ParsedYaml } from "./yaml.js";

/** Most hosts one cluster design lists; a larger fleet is several designs (docs/limits.md). */
export const MAX_CLUSTER_HOSTS = 100;

/** Most items in one list field of an instance (tags, sshpubkey); real ones hold a handful. */
export const MAX_FIELD_ITEMS = 1000;

/** What a validated design tells the engine. */
export interface DesignInfo {
  /** The host the run is about: `instance.hostname`. */
  host: string;
}

/** The kinds of value a design field can hold. */
export type FieldKind =
  | "string"
  | "number"
  | "boolean"
  | "dns-label"
  | "dns-name"
  | "name"
  | "ssh-keys"
  | "string-list"
  | "service-check";

/** One known field of an `instance:` mapping. */
export interface FieldSpec {
  key: string;
  kind: FieldKind;
  required?: boolean;
  /** Filled in by withDesignDefaults when the design leaves the field out. */
  default?: unknown;
  /** Never echo the value back in an error message. */
  secret?: boolean;
}

/** The known fields of `instance:`; every other key is allowed and left alone. */
export const INSTANCE_FIELDS: readonly FieldSpec[] = [
  { key: "hostname", kind: "dns-label", required: true },
  { key: "fqdn", kind: "dns-name" },
  { key: "provider", kind: "name", default: "local" },
  { key: "guestid", kind: "string" },
  { key: "image", kind: "string" },
  { key: "datacenter", kind: "string" },
  { key: "region", kind: "string" },
  { key: "size", kind: "number" },
  { key: "plan", kind: "string" },
  // VMware placement (the datacenter is `datacenter`); size is memory in MB there.
  { key: "cluster", kind: "string" },
  { key: "esx_host", kind: "string" },
  { key: "datastore", kind: "string" },
  { key: "folder", kind: "string" },
  { key: "cpus", kind: "number" },
  { key: "sshpubkey", kind: "ssh-keys" },
  { key: "tags", kind: "string-list" },
  { key: "root_password", kind: "string", secret: true },
  { key: "production", kind: "boolean" },
];

/**
 * The fields of one entry of `services:` (what production:migrate moves before a redeploy).
 * Unlike `instance:`, an unknown key here is refused: a misspelt `standby` would otherwise
 * leave a service unmoved without a word.
 */
export const SERVICE_FIELDS: readonly FieldSpec[] = [
  { key: "name", kind: "name", required: true },
  { key: "dns", kind: "dns-name", required: true },
  { key: "standby", kind: "dns-name", required: true },
  { key: "check", kind: "service-check", required: true },
];

const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const NAME = /^[a-z][a-z0-9_-]*$/;
const SSH_KEY_TYPES = new Set([
  "ssh-ed25519",
  "ssh-rsa",
  "ssh-dss",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "sk-ssh-ed25519@openssh.com",
  "sk-ecdsa-sha2-nistp256@openssh.com",
]);

/**
 * Check a parsed design; returns the host it names. Throws DesignError E_DESIGN_FIELD with
 * `file:line: field must be ..., got ...`.
 */
export function validateDesign(parsed: ParsedYaml): DesignInfo {
  const instance = parsed.value.instance;
  if (instance === undefined) {
    throw new DesignError(
      "E_DESIGN_FIELD",
      `${parsed.source}:1: instance is missing; a design needs an 'instance:' mapping with at least hostname`,
    );
  }
  validateDesignKeys(parsed);
  const info = validateInstance(parsed, ["instance"], instance);
  validateServices(parsed, parsed.value.services);
  return info;
}

/** Check `services:` when present: a list of mappings with SERVICE_FIELDS, names unique. */
export function validateServices(parsed: ParsedYaml, services: unknown): void {
  if (services === undefined || services === null) return;
  if (!Array.isArray(services)) {
    fail(
      parsed,
      ["services"],
      `services must be a list of {name, dns, standby, check}, got ${describe(services)}`,
    );
  }
  const seen = new Set<string>();
  (services as unknown[]).forEach((service, i) => {
    const path = ["services", i];
    if (!isMapping(service)) {
      fail(
        parsed,
        path,
        `services[${i}] must be a mapping {name, dns, standby, check}, got ${describe(service)}`,
      );
    }
    checkFields(parsed, path, SERVICE_FIELDS, service);
    const unknown = Object.keys(service).find((key) => !SERVICE_FIELDS.some((f) => f.key === key));
    if (unknown !== undefined) {
      fail(
        parsed,
        [...path, unknown],
        `services[${i}].${unknown} is not a service field; use ${SERVICE_FIELDS.map((f) => f.key).join(", ")}`,
      );
    }
    const name = service.name as string;
    if (seen.has(name)) fail(parsed, [...path, "name"], `services[${i}].name ${quote(name)} is listed twice`);
    seen.add(name);
  });
}

/**
 * Refuse bidi controls (U+200E, U+202E, ...) in any key of the document: a key that displays
 * as another key would make a design say something else to its reviewer than to jarvis.
 */
export function validateDesignKeys(parsed: ParsedYaml): void {
  // An explicit stack, not recursion: the document may nest as deep as the YAML reader allows.
  const stack: { value: unknown; path: (string | number)[] }[] = [{ value: parsed.value, path: [] }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const { value, path } = item;
    if (Array.isArray(value)) {
      value.forEach((child: unknown, i) => stack.push({ value: child, path: [...path, i] }));
    } else if (isMapping(value)) {
      for (const [key, child] of Object.entries(value)) {
        if (BIDI_CONTROL.test(key)) {
          fail(
            parsed,
            [...path, key],
            `the key ${quote(key)} holds a bidirectional text control (U+200E, U+202E, ...), which makes it display as something else; retype the key`,
          );
        }
        stack.push({ value: child, path: [...path, key] });
      }
    }
  }
}

/** Check one instance mapping found at `path` in the document (`instance`, later `instances[i]`). */
export function validateInstance(
  parsed: ParsedYaml,
  path: readonly (string | number)[],
  instance: unknown,
): DesignInfo {
  const name = pathName(path);
  if (!isMapping(instance)) {
    fail(
      parsed,
      path,
      `${name} must be a mapping of host fields (hostname, fqdn, provider, ...), got ${describe(instance)}`,
    );
  }
  checkFields(parsed, path, INSTANCE_FIELDS, instance);
  return { host: instance.hostname as string };
}

/** Check each field of `fields` in `mapping`, found at `path`. */
function checkFields(
  parsed: ParsedYaml,
  path: readonly (string | number)[],
  fields: readonly FieldSpec[],
  mapping: Record<string, unknown>,
): void {
  for (const field of fields) {
    const fieldPath = [...path, field.key];
    const value = mapping[field.key];
    if (value === undefined || value === null) {
      if (field.required) {
        fail(
          parsed,
          fieldPath,
          `${pathName(fieldPath)} is missing; it is required (${expectation(field.kind)})`,
        );
      }
      continue;
    }
    checkField(parsed, fieldPath, field, value);
  }
}

/** A copy of a design's clipboard with field defaults filled in (`instance.provider: local`). */
export function withDesignDefaults(clipboard: Record<string, unknown>): Record<string, unknown> {
  const instance = clipboard.instance;
  if (!isMapping(instance)) return clipboard;
  const filled: Record<string, unknown> = { ...instance };
  for (const field of INSTANCE_FIELDS) {
    if (field.default !== undefined && (filled[field.key] === undefined || filled[field.key] === null)) {
      filled[field.key] = field.default;
    }
  }
  return { ...clipboard, instance: filled };
}

function checkField(parsed: ParsedYaml, path: (string | number)[], field: FieldSpec, value: unknown): void {
  const name = pathName(path);
  const got = field.secret ? describeKind(value) : describe(value);
  const bad = (): never => fail(parsed, path, `${name} must be ${expectation(field.kind)}, got ${got}`);
  if (typeof value === "string" && BIDI_CONTROL.test(value)) {
    fail(
      parsed,
      path,
      `${name} holds a bidirectional text control (U+200E, U+202E, ...), which makes it display as something else; retype it`,
    );
  }
  const list = Array.isArray(value) ? (value as unknown[]) : undefined;
  if (list && list.length > MAX_FIELD_ITEMS) {
    throw new DesignError(
      "E_DESIGN_LIMIT",
      `${parsed.source}:${parsed.lineOf(path) ?? 1}: ${name} has ${list.length} items, over the limit of ${MAX_FIELD_ITEMS}; is this the right list?`,
    );
  }
  switch (field.kind) {
    case "string":
      if (typeof value !== "string" || value === "") bad();
      return;
    case "number":
      if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) bad();
      return;
    case "boolean":
      if (typeof value !== "boolean") bad();
      return;
    case "dns-label":
      if (typeof value !== "string" || !DNS_LABEL.test(value)) bad();
      return;
    case "name":
      if (typeof value !== "string" || !NAME.test(value)) bad();
      return;
    case "dns-name":
      if (typeof value !== "string" || !isDnsName(value)) bad();
      return;
    case "string-list":
      if (!Array.isArray(value)) bad();
      (value as unknown[]).forEach((item, i) => {
        if (typeof item !== "string" || item === "") {
          fail(parsed, [...path, i], `${name}[${i}] must be a non-empty string, got ${describe(item)}`);
        }
        if (BIDI_CONTROL.test(item)) {
          fail(
            parsed,
            [...path, i],
            `${name}[${i}] holds a bidirectional text control (U+200E, U+202E, ...); retype it`,
          );
        }
      });
      return;
    case "service-check": {
      const problem = serviceCheckProblem(value);
      if (problem !== undefined) fail(parsed, path, `${name} must be ${expectation(field.kind)}: ${problem}`);
      return;
    }
    case "ssh-keys": {
      const list = typeof value === "string" ? [value] : Array.isArray(value) ? (value as unknown[]) : bad();
      list.forEach((item, i) => {
        const itemPath = typeof value === "string" ? path : [...path, i];
        const reason = typeof item === "string" ? sshKeyProblem(item) : `got ${describe(item)}`;
        if (reason !== undefined) {
          fail(
            parsed,
            itemPath,
            `${pathName(itemPath)} must be an SSH public key line ('ssh-ed25519 AAAA... comment'): ${reason}`,
          );
        }
      });
      return;
    }
  }
}

/** Why `line` is not an OpenSSH public key line, or undefined when it is one. */
function sshKeyProblem(line: string): string | undefined {
  const [type, blob] = line.trim().split(/\s+/);
  if (!type || !SSH_KEY_TYPES.has(type)) return `unknown key type ${quote(type ?? "")}`;
  if (!blob || !/^[A-Za-z0-9+/]+={0,2}$/.test(blob)) return "the base64 key data is missing or malformed";
  // The key data starts with its own type as an SSH string; a mismatch means a pasted mix-up.
  const data = Buffer.from(blob, "base64");
  const length = data.length >= 4 ? data.readUInt32BE(0) : -1;
  if (length < 0 || 4 + length > data.length || data.subarray(4, 4 + length).toString("latin1") !== type) {
    return `the key data does not hold a ${type} key`;
  }
  return undefined;
}

/** Why `value` is not a service check ({tcp: PORT} or {http: URL}), or undefined when it is one. */
function serviceCheckProblem(value: unknown): string | undefined {
  if (!isMapping(value)) return `got ${describe(value)}`;
  const keys = Object.keys(value);
  if (keys.length !== 1 || (keys[0] !== "tcp" && keys[0] !== "http"))
    return `got the keys ${keys.join(", ") || "(none)"}`;
  if ("tcp" in value) {
    const port = value.tcp;
    return Number.isInteger(port) && (port as number) >= 1 && (port as number) <= 65535
      ? undefined
      : `tcp must be a port number (1-65535), got ${describe(port)}`;
  }
  const url = value.http;
  if (typeof url !== "string" || !URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol))
    return `http must be an http:// or https:// URL, got ${describe(url)}`;
  return undefined;
}

function isDnsName(value: string): boolean {
  const name = value.endsWith(".") ? value.slice(0, -1) : value;
  if (name.length === 0 || name.length > 253) return false;
  return name.split(".").every((label) => DNS_LABEL.test(label));
}

function expectation(kind: FieldKind): string {
  switch (kind) {
    case "string":
      return "a non-empty string";
    case "number":
      return "a number above 0";
    case "boolean":
      return "true or false";
    case "dns-label":
      return "a DNS label (lowercase letters, digits and '-', 1-63 characters, no '-' at either end)";
    case "dns-name":
      return "a DNS name such as loki.example.org (lowercase labels separated by dots)";
    case "name":
      return "a lowercase name such as 'local' or 'linode'";
    case "ssh-keys":
      return "an SSH public key line or a list of them";
    case "string-list":
      return "a list of strings";
    case "service-check":
      return "{tcp: PORT} or {http: URL}";
  }
}

function fail(parsed: ParsedYaml, path: readonly (string | number)[], message: string): never {
  throw new DesignError("E_DESIGN_FIELD", `${parsed.source}:${parsed.lineOf(path) ?? 1}: ${message}`);
}

function pathName(path: readonly (string | number)[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A value as an error message shows it: strings quoted and cut short, collections by kind. */
function describe(value: unknown): string {
  if (typeof value === "string") return quote(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return describeKind(value);
}

function describeKind(value: unknown): string {
  if (value === null || value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return `a ${typeof value}`;
}

function quote(s: string): string {
  const short = s.length > 60 ? `${s.slice(0, 57)}...` : s;
  return `'${short.replace(/\n/g, "\\n")}'`;
}
