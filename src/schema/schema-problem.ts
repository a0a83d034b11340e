/**
 * From a zod error to the one problem an operator is shown: the issue that comes first in the
 * file, in plain words, at a path the caller turns into `file:line`. Unknown keys name the
 * nearest known key. Messages describe what a value should be and what kind of value was given,
 * never the value itself: a password typed in the wrong place must not end up in an error.
 */
import { z } from "zod";
import { nearest } from "./did-you-mean.js";

/** A path into a YAML document: mapping keys and list indexes. */
export type DocPath = (string | number)[];

/** One refusal, ready to be prefixed with `file:line:` (the line of `path`). */
export interface SchemaProblem {
  path: DocPath;
  /** The whole message after `file:line: `, naming the key or parameter. */
  message: string;
}

/** How a problem names its place: `store.path`, or `with.port` for a pipeline step's parameter. */
export interface ProblemOptions {
  /** Where the validated value sits in its document (e.g. ["modules", "dns", "with"]). */
  base?: DocPath;
  /** Prefix for names in messages, when it differs from `base` (e.g. "with"). */
  label?: string;
  /** Line of a path, to report the issue that comes first in the file. */
  lineOf?: (path: DocPath) => number | undefined;
  /** What an unknown key is called in messages: "key" (default) or "parameter". */
  noun?: string;
}

/** Validate `value`; the typed data, or the first problem in file order. */
export function check<T extends z.ZodType>(
  schema: T,
  value: unknown,
  options: ProblemOptions = {},
): { ok: true; data: z.output<T> } | { ok: false; problem: SchemaProblem } {
  const result = schema.safeParse(value, { error: plainMessage });
  if (result.success) return { ok: true, data: result.data };
  return { ok: false, problem: firstProblem(result.error, schema, options) };
}

/** The issue that comes first in the document (an unknown key before what it causes), in words. */
export function firstProblem(
  error: z.ZodError,
  schema: z.ZodType,
  options: ProblemOptions = {},
): SchemaProblem {
  const base = options.base ?? [];
  const problems = error.issues.map((issue) => describe(issue, schema, base, options));
  const lineOfProblem = (p: SchemaProblem): number => options.lineOf?.(p.path) ?? Number.MAX_SAFE_INTEGER;
  // An unknown key is often the misspelling of a key reported missing in the same mapping (whose
  // line is the mapping's, above it): anything else in that mapping is shown after it.
  // zod reports one unrecognized_keys issue per mapping.
  const unknownKeyLines = new Map<string, number>();
  error.issues.forEach((issue, i) => {
    if (issue.code === "unrecognized_keys")
      unknownKeyLines.set(dotted(issue.path), lineOfProblem(problems[i]!));
  });
  const rank = (i: number): [number, number] => {
    const issue = error.issues[i]!;
    const line = lineOfProblem(problems[i]!);
    if (issue.code === "unrecognized_keys") return [line, 0];
    const unknownInMapping = unknownKeyLines.get(dotted(issue.path.slice(0, -1)));
    return [unknownInMapping === undefined ? line : Math.max(line, unknownInMapping), 1];
  };
  // Stable sort: on one line an unknown key comes first, other issues keep zod's order.
  const order = problems
    .map((_p, i) => i)
    .sort((a, b) => {
      const [lineA, kindA] = rank(a);
      const [lineB, kindB] = rank(b);
      return lineA - lineB || kindA - kindB;
    });
  return problems[order[0]!]!;
}

/** `a.b.0.c` for messages. */
export function dotted(path: readonly PropertyKey[]): string {
  return path.map(String).join(".");
}

function describe(
  issue: z.core.$ZodIssue,
  schema: z.ZodType,
  base: DocPath,
  options: ProblemOptions,
): SchemaProblem {
  const label = options.label;
  const local = issue.path.map((k) => (typeof k === "number" ? k : String(k)));
  const name = (path: DocPath): string => dotted(label === undefined ? [...base, ...path] : [label, ...path]);
  if (issue.code === "unrecognized_keys") {
    const key = issue.keys[0] ?? "?";
    const known = knownKeys(schema, local);
    const meant = nearest(key, known);
    const hint = meant
      ? `did you mean '${name([...local, meant])}'?`
      : known.length
        ? `known keys here: ${known.join(", ")}`
        : "nothing may be given here";
    return {
      path: [...base, ...local, key],
      message: `unknown ${options.noun ?? "key"} '${name([...local, key])}'; ${hint}`,
    };
  }
  const where = name(local);
  const text = issue.message;
  // "store.path must be a file path", but "chat.irc.channels.0: 'ops' is not a channel name".
  const message =
    where === "" ? text : /^(must|is|are|has) /.test(text) ? `${where} ${text}` : `${where}: ${text}`;
  return { path: [...base, ...local], message };
}

/** The keys a mapping at `path` inside `schema` accepts (empty when it is not a known mapping). */
function knownKeys(schema: z.core.$ZodType, path: DocPath): string[] {
  const node = unwrap(schema);
  if (node instanceof z.ZodUnion) return [...new Set(node.options.flatMap((o) => knownKeys(o, path)))];
  if (path.length === 0) return node instanceof z.ZodObject ? Object.keys(node.shape) : [];
  const [head, ...rest] = path;
  if (node instanceof z.ZodObject) {
    const child = Object.hasOwn(node.shape, String(head)) ? node.shape[String(head)] : undefined;
    return child ? knownKeys(child, rest) : [];
  }
  if (node instanceof z.ZodRecord) return knownKeys(node.valueType, rest);
  if (node instanceof z.ZodArray) return knownKeys(node.element, rest);
  return [];
}

function unwrap(schema: z.core.$ZodType): z.core.$ZodType {
  let node = schema;
  for (;;) {
    if (
      node instanceof z.ZodOptional ||
      node instanceof z.ZodNullable ||
      node instanceof z.ZodDefault ||
      node instanceof z.ZodReadonly
    )
      node = node.unwrap();
    else if (node instanceof z.ZodPipe) node = node.in;
    else return node;
  }
}

/**
 * Default wording for issues a schema gives no message of its own (zod: a schema's own `error`
 * wins over this). Only the kind of the input is named, never its text.
 */
export function plainMessage(issue: z.core.$ZodRawIssue): string {
  switch (issue.code) {
    case "invalid_type":
      if (issue.input === undefined)
        return `is required: ${EXPECTED[issue.expected] ?? `a ${issue.expected}`}`;
      return `must be ${EXPECTED[issue.expected] ?? `a ${issue.expected}`}, got ${kindOf(issue.input)}`;
    case "too_small":
      return issue.origin === "string" && Number(issue.minimum) === 1
        ? "must not be empty"
        : issue.origin === "array" || issue.origin === "set"
          ? `must have at least ${String(issue.minimum)} item(s)`
          : `must be ${issue.inclusive ? "at least" : "above"} ${String(issue.minimum)}`;
    case "too_big":
      return issue.origin === "array" || issue.origin === "set"
        ? `must have at most ${String(issue.maximum)} item(s)`
        : issue.origin === "string"
          ? `must be at most ${String(issue.maximum)} characters long`
          : `must be ${issue.inclusive ? "at most" : "below"} ${String(issue.maximum)}`;
    case "invalid_value":
      return `must be one of ${issue.values.map((v) => String(v)).join(", ")}`;
    case "not_multiple_of":
      return `must be a multiple of ${String(issue.divisor)}`;
    case "invalid_format":
      return `is not a valid ${issue.format}`;
    case "invalid_union":
      return `is not any of the accepted forms, got ${kindOf(issue.input)}`;
    default:
      return "is not valid here";
  }
}

const EXPECTED: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "a whole number",
  boolean: "true or false",
  object: "a mapping",
  record: "a mapping",
  array: "a list",
  never: "absent",
};

/** What kind of YAML value was given: "a list", "a mapping", "nothing"... */
export function kindOf(value: unknown): string {
  if (value === null || value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "boolean") return "true or false";
  if (typeof value === "number") return Number.isInteger(value) ? "a whole number" : "a number";
  return `a ${typeof value}`;
}
