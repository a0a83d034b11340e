/**
 * Which keys name a secret. A key is normalised first (camelCase and `-`, `.`, spaces become
 * `_`, lower case), so `rootPassword`, `ROOT-PASSWORD` and `root.password` are one key. Then it
 * is a secret key when it contains one of the SECRET_KEY_PARTS (or a `redact.keys` entry from
 * jarvis.yml), or when one of its words is a SECRET_KEY_WORDS entry: short names like `pass`
 * or `conn` mean a secret only as a whole word (`db_pass`, `ldap.conn`), not inside `bypass` or
 * `connect_timeout`. docs/security.md lists both.
 */

/** Parts that make any key containing them a secret key. */
export const SECRET_KEY_PARTS = [
  "password",
  "passwd",
  "passphrase",
  "secret",
  "token",
  "private_key",
  "privatekey",
  "api_key",
  "apikey",
  "credential",
  "connection_string",
  "connection_uri",
  "connection_url",
  "conn_str",
  "connstr",
] as const;

/** Words that make a key a secret key when they stand alone between separators. */
export const SECRET_KEY_WORDS = ["pass", "pwd", "pw", "creds", "conn", "dsn"] as const;

/** A key longer than this is data, not a key name (and not worth scanning). */
const MAX_KEY_LENGTH = 256;

/** Keys whose answer is remembered (a clipboard of 50,000 packages has 50,000 distinct keys). */
const MAX_KNOWN_KEYS = 100_000;

/** Decides whether a key names a secret; `extraParts` are jarvis.yml's `redact.keys`. */
export type SecretKeyTest = (key: string) => boolean;

/** The key test for the built-in parts and words plus `extraParts` (matched as parts). */
export function secretKeyTest(extraParts: readonly string[] = []): SecretKeyTest {
  const parts = [...new Set([...SECRET_KEY_PARTS, ...extraParts.map(normaliseKey).filter((p) => p !== "")])];
  const words = new Set<string>(SECRET_KEY_WORDS);
  // Clipboards repeat the same few keys thousands of times; the answer is kept per key.
  const known = new Map<string, boolean>();
  return (key) => {
    if (key.length > MAX_KEY_LENGTH) return false;
    let answer = known.get(key);
    if (answer === undefined) {
      const normal = normaliseKey(key);
      answer = parts.some((p) => normal.includes(p)) || normal.split("_").some((w) => words.has(w));
      if (known.size >= MAX_KNOWN_KEYS) known.clear();
      known.set(key, answer);
    }
    return answer;
  };
}

/** `rootPassword` -> `root_password`, `LDAP.Bind-PW` -> `ldap_bind_pw`. */
export function normaliseKey(key: string): string {
  return key
    .trim()
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_");
}
