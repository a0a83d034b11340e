/**
 * Redaction: secrets are shown as `***` wherever jarvis prints a clipboard, a log line, an error
 * or a chat reply. The store keeps the real values; only what leaves for people is redacted.
 */

/** What is hidden: values under matching keys, known secret values, PEM private keys. */
export interface Redactor {
  /** A deep copy of `v` with secret values replaced by "***" (input is left untouched). */
  value<T>(v: T): T;
  /** `s` with known secrets, private key blocks and `key: value` secrets replaced by "***". */
  text(s: string): string;
}

/** How a redactor is built: key names (e.g. DEFAULT_REDACT_KEYS) and known secret values. */
export interface RedactorOptions {
  /** A key matches when it equals or contains one of these, case-insensitively. */
  keys: string[];
  /** Exact secret values (tokens, passwords from the environment); those under 4 characters are ignored. */
  secrets?: string[];
}

/** The replacement shown for every hidden value. */
export const MASK = "***";

const MIN_SECRET_LENGTH = 4;
const MAX_DEPTH = 200;

// A truncated block (no END line, e.g. a cut log line) is hidden to the end of the text.
const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\s\S]*?(?:-----END \1PRIVATE KEY-----|$)/g;
const BEARER = /\b(Bearer)\s+[A-Za-z0-9._~+/=-]{8,}/g;
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:)[^\s@/]+@/gi;

/** Build a redactor for the given key names and secret values. */
export function createRedactor(options: RedactorOptions): Redactor {
  const keys = [...new Set(options.keys.map((k) => k.trim().toLowerCase()).filter((k) => k !== ""))];
  const secrets = [...new Set((options.secrets ?? []).filter((s) => s.length >= MIN_SECRET_LENGTH))]
    // Longest first, so a secret that contains another is hidden whole.
    .sort((a, b) => b.length - a.length);
  const secretPattern = secrets.length > 0 ? new RegExp(secrets.map(escapeRegExp).join("|"), "g") : undefined;
  const keyPattern =
    keys.length > 0
      ? new RegExp(
          `([\\w.-]*(?:${keys.map(escapeRegExp).join("|")})[\\w.-]*)(["']?[ \\t]*[:=][ \\t]*)("[^"\\n]*"|'[^'\\n]*'|[^\\s,;&}"']+)`,
          "gi",
        )
      : undefined;

  // `key: |` followed by more-indented lines: a YAML block scalar, hidden line by line.
  const blockPattern =
    keys.length > 0
      ? new RegExp(
          `^([ \\t]*)(-[ \\t]+)?([\\w.-]*(?:${keys.map(escapeRegExp).join("|")})[\\w.-]*:[ \\t]*[|>][-+0-9]*[ \\t]*)\\n((?:\\1[ \\t]+\\S.*(?:\\n|$))+)`,
          "gim",
        )
      : undefined;

  const matchesKey = (key: string): boolean => {
    const lower = key.toLowerCase();
    return keys.some((k) => lower.includes(k));
  };

  const text = (s: string): string => {
    let out = s.replace(PEM_BLOCK, MASK);
    if (blockPattern) {
      out = out.replace(
        blockPattern,
        (_m, indent: string, dash: string | undefined, head: string, body: string) => {
          // The block holds the lines indented past the key's column; a sibling key ends it.
          const column = indent.length + (dash?.length ?? 0);
          const lines = body.split("\n");
          let inBlock = 0;
          while (
            inBlock < lines.length &&
            (/^[ \t]*/.exec(lines[inBlock]!)?.[0].length ?? 0) > column &&
            lines[inBlock]!.trim() !== ""
          )
            inBlock++;
          const inner = /^[ \t]*/.exec(lines[0] ?? "")?.[0] ?? "";
          const rest = lines.slice(inBlock).join("\n");
          const after = rest !== "" ? `\n${rest}` : body.endsWith("\n") ? "\n" : "";
          return `${indent}${dash ?? ""}${head}\n${inner}${MASK}${after}`;
        },
      );
    }
    if (secretPattern) out = out.replace(secretPattern, MASK);
    if (keyPattern) {
      out = out.replace(keyPattern, (m: string, key: string, sep: string, value: string) => {
        // A block scalar's indicator stays; its lines were hidden above.
        if (/^[|>][-+0-9]*$/.test(value)) return m;
        const quote = value.startsWith('"') ? '"' : value.startsWith("'") ? "'" : "";
        return `${key}${sep}${quote}${MASK}${quote}`;
      });
    }
    out = out.replace(BEARER, (_m, scheme: string) => `${scheme} ${MASK}`);
    return out.replace(URL_PASSWORD, (_m, prefix: string) => `${prefix}${MASK}@`);
  };

  const copy = (v: unknown, depth: number, seen: WeakSet<object>): unknown => {
    if (typeof v === "string") return text(v);
    if (typeof v !== "object" || v === null) return v;
    if (depth > MAX_DEPTH || seen.has(v)) return MASK;
    if (Array.isArray(v)) {
      seen.add(v);
      const out = v.map((item) => copy(item, depth + 1, seen));
      seen.delete(v);
      return out;
    }
    if (Object.getPrototypeOf(v) !== Object.prototype && Object.getPrototypeOf(v) !== null) return v;
    seen.add(v);
    // fromEntries defines own properties, so a `__proto__` key from YAML stays a plain key.
    const out = Object.fromEntries(
      Object.entries(v).map(([key, item]) => [
        key,
        matchesKey(key) && !isEmpty(item) ? MASK : copy(item, depth + 1, seen),
      ]),
    );
    seen.delete(v);
    return out;
  };

  return {
    value: <T>(v: T): T => copy(v, 0, new WeakSet()) as T,
    text,
  };
}

/** Empty values are shown as they are: hiding them would hide that a secret is missing. */
function isEmpty(v: unknown): boolean {
  return v === null || v === undefined || v === "";
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
