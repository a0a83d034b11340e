/**
 * What a step did to the clipboard: the added, changed and removed values between two snapshots,
 * each reported at the deepest path where they differ, for `jarvis diff` and chat.
 */
import type { Redactor } from "./redact.js";

/** One difference between two clipboards. */
export interface DiffEntry {
  /** Dotted path, `[i]` for list items: `dns.records[0].name`. */
  path: string;
  kind: "added" | "changed" | "removed";
  before?: unknown;
  after?: unknown;
}

/** Longest value shown on one diff line before it is cut. */
const MAX_VALUE_CHARS = 200;

type Segment = string | number;

/** The differences from `before` to `after`, sorted by path; a changed leaf is reported at the leaf. */
export function diffClipboards(before: unknown, after: unknown): DiffEntry[] {
  const found: { segments: Segment[]; entry: Omit<DiffEntry, "path"> }[] = [];
  const walk = (a: unknown, b: unknown, segments: Segment[]): void => {
    if (isMapping(a) && isMapping(b)) {
      for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
        const inA = Object.hasOwn(a, key);
        const inB = Object.hasOwn(b, key);
        if (inA && !inB)
          found.push({ segments: [...segments, key], entry: { kind: "removed", before: a[key] } });
        else if (!inA && inB)
          found.push({ segments: [...segments, key], entry: { kind: "added", after: b[key] } });
        else walk(a[key], b[key], [...segments, key]);
      }
    } else if (Array.isArray(a) && Array.isArray(b)) {
      for (let i = 0; i < Math.max(a.length, b.length); i++) {
        if (i >= b.length)
          found.push({ segments: [...segments, i], entry: { kind: "removed", before: a[i] } });
        else if (i >= a.length)
          found.push({ segments: [...segments, i], entry: { kind: "added", after: b[i] } });
        else walk(a[i], b[i], [...segments, i]);
      }
    } else if (!deepEqual(a, b)) {
      found.push({ segments, entry: { kind: "changed", before: a, after: b } });
    }
  };
  // A missing snapshot (before the first step) counts as an empty clipboard.
  walk(before ?? {}, after ?? {}, []);
  found.sort((x, y) => compareSegments(x.segments, y.segments));
  return found.map(({ segments, entry }) => ({ path: formatPath(segments), ...entry }));
}

/** Diff entries as lines (`+ path: value`, `~ path: old -> new`, `- path: value`), redacted. */
export function formatDiff(entries: DiffEntry[], redactor: Redactor): string {
  if (entries.length === 0) return "no changes";
  return entries
    .map((entry) => {
      const show = (v: unknown): string => formatValue(redactAt(entry.path, v, redactor));
      const line =
        entry.kind === "added"
          ? `+ ${entry.path}: ${show(entry.after)}`
          : entry.kind === "removed"
            ? `- ${entry.path}: ${show(entry.before)}`
            : `~ ${entry.path}: ${show(entry.before)} -> ${show(entry.after)}`;
      return redactor.text(line);
    })
    .join("\n");
}

/**
 * Redact a value as if it sat at `path` in the clipboard, so a value under a secret key anywhere
 * up the path (`linode.root_password`, `secrets.dns[0]`) is hidden like in a whole-clipboard view.
 */
function redactAt(path: string, value: unknown, redactor: Redactor): unknown {
  const keys = pathKeys(path);
  let wrapped: unknown = value;
  for (let i = keys.length - 1; i >= 0; i--) wrapped = { [keys[i]!]: wrapped };
  let unwrapped: unknown = redactor.value(wrapped);
  for (const key of keys) {
    if (!isMapping(unwrapped)) return unwrapped;
    unwrapped = unwrapped[key];
  }
  return unwrapped;
}

/** The mapping keys along a formatted path; list indices become keys no redaction rule matches. */
function pathKeys(path: string): string[] {
  const keys: string[] = [];
  const re = /\["((?:[^"\\]|\\.)*)"\]|\[(\d+)\]|\.?([^.[\]]+)/g;
  for (let m = re.exec(path); m !== null; m = re.exec(path)) {
    if (m[1] !== undefined) keys.push(JSON.parse(`"${m[1]}"`) as string);
    else if (m[2] !== undefined) keys.push(`[${m[2]}]`);
    else if (m[3] !== undefined) keys.push(m[3]);
  }
  return keys;
}

function formatPath(segments: Segment[]): string {
  if (segments.length === 0) return "(clipboard)";
  return segments
    .map((s, i) => {
      if (typeof s === "number") return `[${s}]`;
      if (/^[A-Za-z0-9_-]+$/.test(s)) return i === 0 ? s : `.${s}`;
      return `[${JSON.stringify(s)}]`;
    })
    .join("");
}

/** One-line value: plain strings bare, everything else as compact JSON; long values cut. */
function formatValue(v: unknown): string {
  let s: string;
  if (typeof v === "string" && /^[\w./:@+=*-][\w ./:@+=,*-]*$/.test(v) && !/ $/.test(v)) s = v;
  else s = JSON.stringify(v) ?? String(v);
  return s.length > MAX_VALUE_CHARS ? `${s.slice(0, MAX_VALUE_CHARS)}... (${s.length} characters)` : s;
}

function compareSegments(a: Segment[], b: Segment[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    if (typeof x === "number" && typeof y === "number") return x - y;
    return String(x) < String(y) ? -1 : 1;
  }
  return a.length - b.length;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  if (isMapping(a) && isMapping(b)) {
    const ka = Object.keys(a);
    return (
      ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]))
    );
  }
  return Number.isNaN(a) && Number.isNaN(b);
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
