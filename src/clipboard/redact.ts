/**
 * Redaction: secrets are shown as `***` wherever jarvis prints a clipboard, a log line, an error
 * or a chat reply. The store keeps the real values; only what leaves for people is redacted.
 * Secrets are hidden by key (values under a secret key, see secret-keys.ts), by shape in text
 * (text-masks.ts) and by value: every value learned from a clipboard, the design source and
 * jarvis.yml is hidden wherever it appears (secret-values.ts, matched in one linear pass by
 * secret-matcher.ts). docs/security.md is the operator's view of the same rules.
 */
import { createSecretMatcher } from "./secret-matcher.js";
import { secretKeyTest } from "./secret-keys.js";
import { MIN_SECRET_LENGTH, collectSecrets, collectTextSecrets } from "./secret-values.js";
import {
  maskBearerTokens,
  maskKeyValues,
  maskPemBlocks,
  maskSecretBlocks,
  maskSpans,
  urlSecretSpans,
} from "./text-masks.js";

/** What is hidden: values under secret keys, known secret values, secrets recognised by shape. */
export interface Redactor {
  /**
   * A deep copy of `v` with secret values replaced by "***" (input is left untouched); the
   * secrets of `v` itself are hidden wherever else in `v` they appear.
   */
  value<T>(v: T): T;
  /** `s` with known secrets, private key blocks, `key: value` secrets and URL secrets replaced. */
  text(s: string): string;
  /** A redactor that also hides the secret values found in `v` (a clipboard, jarvis.yml's `with`). */
  learn(v: unknown): Redactor;
  /** A redactor that also hides the URL passwords and secret query values in `s` (a design source). */
  learnText(s: string): Redactor;
  /** The secret values this redactor hides wherever they appear. */
  readonly secrets: ReadonlySet<string>;
}

/** How a redactor is built: key names (jarvis.yml's `redact.keys`) and known secret values. */
export interface RedactorOptions {
  /** Extra secret key parts, matched like the built-in ones (see secret-keys.ts). */
  keys: readonly string[];
  /** Exact secret values (tokens, passwords from the environment); those under 4 characters are ignored. */
  secrets?: Iterable<string>;
}

/** The replacement shown for every hidden value. */
export const MASK = "***";

const MAX_DEPTH = 200;

/** Build a redactor for the given key names and secret values. */
export function createRedactor(options: RedactorOptions): Redactor {
  const isSecretKey = secretKeyTest(options.keys);
  const secrets = new Set([...(options.secrets ?? [])].filter((s) => s.length >= MIN_SECRET_LENGTH));
  return build(options.keys, isSecretKey, secrets);
}

function build(
  keys: readonly string[],
  isSecretKey: (key: string) => boolean,
  secrets: Set<string>,
): Redactor {
  const matcher = secrets.size > 0 ? createSecretMatcher([...secrets]) : undefined;

  const text = (s: string): string => {
    // Each mask runs only where its shape can be: most clipboard strings are short plain words.
    let out = s.includes("PRIVATE KEY") ? maskPemBlocks(s, MASK) : s;
    if (out.includes("\n")) out = maskSecretBlocks(out, isSecretKey, MASK);
    if (matcher) out = matcher.replace(out, MASK);
    if (out.includes(":") || out.includes("=")) out = maskKeyValues(out, isSecretKey, MASK);
    if (out.includes("Bearer")) out = maskBearerTokens(out, MASK);
    return maskSpans(out, urlSecretSpans(out, isSecretKey), MASK);
  };

  const extended = (add: (into: Set<string>) => void): Redactor => {
    const more = new Set(secrets);
    add(more);
    return more.size === secrets.size ? self : build(keys, isSecretKey, more);
  };

  const copy = (v: unknown, hide: (s: string) => string, depth: number, seen: WeakSet<object>): unknown => {
    if (typeof v === "string") return hide(v);
    if (typeof v !== "object" || v === null) return v;
    if (depth > MAX_DEPTH || seen.has(v)) return MASK;
    if (Array.isArray(v)) {
      seen.add(v);
      const out = v.map((item) => copy(item, hide, depth + 1, seen));
      seen.delete(v);
      return out;
    }
    if (Object.getPrototypeOf(v) !== Object.prototype && Object.getPrototypeOf(v) !== null) return v;
    seen.add(v);
    // fromEntries defines own properties, so a `__proto__` key from YAML stays a plain key.
    const out = Object.fromEntries(
      Object.entries(v).map(([key, item]) => [
        key,
        isSecretKey(key) && !isEmpty(item) ? MASK : copy(item, hide, depth + 1, seen),
      ]),
    );
    seen.delete(v);
    return out;
  };

  const self: Redactor = {
    value: <T>(v: T): T => {
      const knowing = self.learn(v);
      return copy(v, knowing.text, 0, new WeakSet()) as T;
    },
    text,
    learn: (v) => extended((into) => collectSecrets(v, isSecretKey, into)),
    learnText: (s) => extended((into) => collectTextSecrets(s, isSecretKey, into)),
    secrets,
  };
  return self;
}

/** Empty values are shown as they are: hiding them would hide that a secret is missing. */
function isEmpty(v: unknown): boolean {
  return v === null || v === undefined || v === "";
}
