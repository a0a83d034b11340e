/**
 * Secrets recognised by their shape in free text (log lines, errors, YAML as text): `key: value`
 * and `key=value` under a secret key, YAML blocks and lists under one, URL userinfo, secret query
 * parameters, bearer tokens, PEM private keys. Every scanner reads the text a bounded number of
 * times: no regex here has a quantifier that can backtrack over a long token, because one 100 KB
 * base64 value once made printing a clipboard take half a minute.
 */
import { normaliseKey } from "./secret-keys.js";
import type { SecretKeyTest } from "./secret-keys.js";

/** A span [start, end) of a text to hide. */
export type Span = readonly [number, number];

// A truncated block (no END line, e.g. a cut log line) is hidden to the end of the text. The
// type run stops at the first character outside [A-Z0-9 ], and the lazy body at the first END,
// so each block is read once.
const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\s\S]*?(?:-----END \1PRIVATE KEY-----|$)/g;
const BEARER = /\b(Bearer)[ \t]+[A-Za-z0-9._~+/=-]{8,}/g;
const BLOCK_INDICATOR = /^[|>][-+0-9]*[ \t]*$/;
const QUERY_START = /[?&]/g;

/** Query parameters that carry secrets although their name is no secret key elsewhere. */
const SECRET_QUERY_NAMES = new Set([
  "key",
  "sig",
  "signature",
  "auth",
  "x_amz_signature",
  "x_amz_credential",
  "x_amz_security_token",
  "x_goog_signature",
  "x_goog_credential",
]);

/** Longest URL scheme looked back for before `://`. */
const MAX_SCHEME = 32;

export function maskPemBlocks(text: string, mask: string): string {
  return text.replace(PEM_BLOCK, mask);
}

export function maskBearerTokens(text: string, mask: string): string {
  return text.replace(BEARER, (_m, scheme: string) => `${scheme} ${mask}`);
}

/** Replace the spans (sorted, not overlapping) of `text` with `mask`. */
export function maskSpans(text: string, spans: readonly Span[], mask: string): string {
  if (spans.length === 0) return text;
  const parts: string[] = [];
  let at = 0;
  for (const [start, end] of spans) {
    if (start < at) continue;
    parts.push(text.slice(at, start), mask);
    at = end;
  }
  parts.push(text.slice(at));
  return parts.join("");
}

/**
 * The password of URL userinfo (`https://ops:SECRET@host`; for http(s) a user alone, which is
 * how tokens are passed: `https://TOKEN@host`) and the values of secret query parameters
 * (`?token=`, `&sig=`, `?key=` ...), in text order.
 */
export function urlSecretSpans(text: string, isSecretKey: SecretKeyTest): Span[] {
  const spans: Span[] = [];
  for (let p = text.indexOf("://"); p !== -1; p = text.indexOf("://", p + 3)) {
    let s = p;
    while (s > 0 && p - s < MAX_SCHEME && isSchemeChar(text.charCodeAt(s - 1))) s--;
    if (s === p) continue;
    const scheme = text.slice(s, p).toLowerCase();
    const from = p + 3;
    let q = from;
    while (q < text.length && !isUserinfoEnd(text[q]!)) q++;
    if (text[q] !== "@" || q === from) continue;
    const colon = text.indexOf(":", from);
    if (colon !== -1 && colon < q) {
      if (colon + 1 < q) spans.push([colon + 1, q]);
    } else if (scheme === "http" || scheme === "https") spans.push([from, q]);
  }
  for (const match of text.matchAll(QUERY_START)) {
    const i = match.index;
    let n = i + 1;
    while (n < text.length && isKeyChar(text.charCodeAt(n))) n++;
    if (text[n] !== "=" || n === i + 1) continue;
    const name = text.slice(i + 1, n);
    let v = n + 1;
    while (v < text.length && !isQueryValueEnd(text[v]!)) v++;
    if (v > n + 1 && (SECRET_QUERY_NAMES.has(normaliseKey(name)) || isSecretKey(name)))
      spans.push([n + 1, v]);
  }
  return spans.sort((a, b) => a[0] - b[0]);
}

/**
 * `key: value`, `key=value`, `"key": "value"` where the key is a secret key: the value is hidden
 * whole, spaces included, to the closing quote or else to the end of the line (or a `&`, `, `,
 * `; ` or `}` that ends a value in query strings and inline mappings). A value that is a YAML
 * block indicator or empty is left to maskSecretBlocks.
 */
export function maskKeyValues(text: string, isSecretKey: SecretKeyTest, mask: string): string {
  const spans: Span[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    if (!isKeyChar(text.charCodeAt(i))) {
      i++;
      continue;
    }
    const start = i;
    while (i < n && isKeyChar(text.charCodeAt(i))) i++;
    const keyEnd = i;
    let j = i;
    if (text[j] === '"' || text[j] === "'") j++;
    while (text[j] === " " || text[j] === "\t") j++;
    const sep = text[j];
    if (sep !== ":" && sep !== "=") continue;
    if (sep === ":" && text[j + 1] === "/" && text[j + 2] === "/") continue;
    j++;
    while (text[j] === " " || text[j] === "\t") j++;
    if (j >= n || text[j] === "\n" || text[j] === "\r") continue;
    if (!isSecretKey(text.slice(start, keyEnd))) continue;
    // Already hidden (by value, or a diff's `*** -> ***`): what follows is not this value.
    if (text.startsWith(mask, j)) {
      i = j + mask.length;
      continue;
    }
    const quote = text[j];
    let end = j;
    if (quote === '"' || quote === "'") {
      end = j + 1;
      while (end < n && text[end] !== quote && text[end] !== "\n") end++;
      if (text[end] === quote) {
        if (end > j + 1) spans.push([j + 1, end]);
        i = end + 1;
        continue;
      }
      // No closing quote on the line: hide the rest of it.
    }
    while (end < n && !endsUnquotedValue(text, end)) end++;
    let trimmed = end;
    while (trimmed > j && (text[trimmed - 1] === " " || text[trimmed - 1] === "\t")) trimmed--;
    if (BLOCK_INDICATOR.test(text.slice(j, end))) {
      i = end;
      continue;
    }
    if (trimmed > j) spans.push([j, trimmed]);
    i = end;
  }
  return maskSpans(text, spans, mask);
}

/**
 * YAML as text: under a secret key whose value is a block scalar (`key: |`), a nested list or a
 * mapping (`secrets:` with the value on the following, deeper lines; `secrets:` followed by
 * `- item` lines at its own indentation), every line of the value becomes one `***` line.
 */
export function maskSecretBlocks(text: string, isSecretKey: SecretKeyTest, mask: string): string {
  const lines = text.split("\n");
  const out: string[] = [];
  for (let l = 0; l < lines.length; l++) {
    const line = lines[l]!;
    out.push(line);
    const head = secretBlockHead(line, isSecretKey);
    if (!head) continue;
    let end = l + 1;
    let lastContent = l;
    while (end < lines.length) {
      const next = lines[end]!;
      if (next.trim() === "") {
        end++;
        continue;
      }
      const indent = indentOf(next);
      const continues =
        indent > head.column ||
        (!head.scalar && indent === head.column && (next[indent] === "-" || next.startsWith("- ", indent)));
      if (!continues) break;
      lastContent = end;
      end++;
    }
    if (lastContent === l) continue;
    const first = lines[l + 1 + leadingBlank(lines, l + 1)]!;
    const inner = Math.max(indentOf(first), head.column + 2);
    out.push(`${" ".repeat(inner)}${mask}`);
    l = lastContent;
  }
  return out.join("\n");
}

function secretBlockHead(
  line: string,
  isSecretKey: SecretKeyTest,
): { column: number; scalar: boolean } | undefined {
  // Only `key:` and `key: |` (or `>`, with chomping and indentation) open a block.
  const last = line.trimEnd().at(-1) ?? "";
  if (!":|>-+".includes(last) && !(last >= "0" && last <= "9")) return undefined;
  let i = indentOf(line);
  if (line[i] === "-" && (line[i + 1] === " " || line[i + 1] === "\t")) {
    i++;
    while (line[i] === " " || line[i] === "\t") i++;
  }
  const column = i;
  while (i < line.length && isKeyChar(line.charCodeAt(i))) i++;
  if (i === column) return undefined;
  const key = line.slice(column, i);
  if (line[i] === '"' || line[i] === "'") i++;
  while (line[i] === " " || line[i] === "\t") i++;
  if (line[i] !== ":") return undefined;
  const rest = line.slice(i + 1).trim();
  const scalar = BLOCK_INDICATOR.test(rest);
  if (rest !== "" && !scalar) return undefined;
  if (!isSecretKey(key)) return undefined;
  // A list item's value lines and sibling keys are measured from its key, past the dash.
  return { column, scalar };
}

function leadingBlank(lines: string[], from: number): number {
  let k = 0;
  while (from + k < lines.length && lines[from + k]!.trim() === "") k++;
  return k;
}

function indentOf(line: string): number {
  let i = 0;
  while (line[i] === " " || line[i] === "\t") i++;
  return i;
}

function endsUnquotedValue(text: string, i: number): boolean {
  const c = text[i];
  if (c === "\n" || c === "\r" || c === "&" || c === "}") return true;
  return (c === "," || c === ";") && (text[i + 1] === " " || text[i + 1] === undefined);
}

/** Key names: word characters, `.` and `-` (`db.password`, `X-Api-Key`). */
function isKeyChar(code: number): boolean {
  return (
    (code >= 48 && code <= 57) ||
    (code >= 65 && code <= 90) ||
    (code >= 97 && code <= 122) ||
    code === 95 ||
    code === 45 ||
    code === 46
  );
}

function isSchemeChar(code: number): boolean {
  return (
    (code >= 48 && code <= 57) ||
    (code >= 65 && code <= 90) ||
    (code >= 97 && code <= 122) ||
    code === 43 ||
    code === 45 ||
    code === 46
  );
}

function isUserinfoEnd(c: string): boolean {
  return (
    c === "/" ||
    c === "?" ||
    c === "#" ||
    c === "@" ||
    c === '"' ||
    c === "'" ||
    c === "<" ||
    c === ">" ||
    /\s/.test(c)
  );
}

function isQueryValueEnd(c: string): boolean {
  return c === "&" || c === "#" || c === '"' || c === "'" || c === "<" || c === ">" || /\s/.test(c);
}
