/**
 * Plan mode, the step side (README "Plan before you run"): in a plan run each step reports what it
 * would change as entries appended to the clipboard's `plan:` list, and changes nothing outside.
 *
 * What a step would produce but cannot know before doing it (the IP of a node not yet created)
 * goes on the clipboard as a readable placeholder and is recorded under `plan_marks.placeholders`
 * by its clipboard path, so later steps recognise it by where it is, never by its shape, and plan
 * against it without contacting anything. `plan_marks.gone` lists what an earlier step would
 * delete (a later deploy then plans a create), `plan_marks.unknown` the steps that could not plan:
 * every entry after one carries `after_unknown`, because its input may not be what the real run
 * will see.
 *
 * Loaded by step processes: it imports nothing but types.
 */

/** What a step would do to one target. `unknown`: it cannot say without doing it. */
export type PlanAction = "create" | "update" | "delete" | "none" | "unknown";

/** One planned change, as it appears in the clipboard's `plan:` list. */
export interface PlanEntry {
  step: string;
  action: PlanAction;
  /** What is changed, e.g. `local node loki`, `loki.example.org. A`, `cn=loki,ou=Hosts,...`. */
  target: string;
  before: unknown;
  after: unknown;
  /** Steps before this one that could not plan (so this entry may not hold). */
  after_unknown?: string[];
}

/** Bookkeeping of a plan run that later steps read (see the file comment). */
export interface PlanMarks {
  placeholders: Record<string, string>;
  gone: string[];
  unknown: string[];
}

/** The clipboard key of the plan's entries. */
export const PLAN_KEY = "plan";
/** The clipboard key of PlanMarks. */
export const PLAN_MARKS_KEY = "plan_marks";

type Clipboard = Record<string, unknown>;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

/** The plan bookkeeping on a clipboard (empty when there is none yet). */
export function planMarks(clipboard: Clipboard): PlanMarks {
  const raw = clipboard[PLAN_MARKS_KEY];
  const marks = isRecord(raw) ? raw : {};
  const placeholders: Record<string, string> = {};
  if (isRecord(marks.placeholders)) {
    for (const [path, text] of Object.entries(marks.placeholders))
      if (typeof text === "string") placeholders[path] = text;
  }
  return { placeholders, gone: strings(marks.gone), unknown: strings(marks.unknown) };
}

/** The plan's entries so far. */
export function planEntries(clipboard: Clipboard): PlanEntry[] {
  const raw = clipboard[PLAN_KEY];
  return Array.isArray(raw)
    ? raw.filter((e): e is PlanEntry => isRecord(e) && typeof e.step === "string")
    : [];
}

/** The clipboard with `entries` appended to its plan (each marked when an earlier step could not plan). */
export function withPlanEntries(clipboard: Clipboard, entries: PlanEntry[]): Clipboard {
  const { unknown } = planMarks(clipboard);
  const marked = unknown.length > 0 ? entries.map((e) => ({ ...e, after_unknown: [...unknown] })) : entries;
  return { ...clipboard, [PLAN_KEY]: [...planEntries(clipboard), ...marked] };
}

/** The clipboard with its marks changed by `change`. */
export function withMarks(clipboard: Clipboard, change: (marks: PlanMarks) => PlanMarks): Clipboard {
  return { ...clipboard, [PLAN_MARKS_KEY]: change(planMarks(clipboard)) };
}

/** The text of a placeholder: what the value is and which step will know it. */
export function placeholderText(what: string, host: string, step: string): string {
  return `<${what} of ${host} after ${step}>`;
}

/**
 * Put placeholders on the clipboard: `values` maps a dotted path (its parent mapping must exist
 * or be created) to the placeholder's text; each is recorded in `plan_marks.placeholders`.
 */
export function withPlaceholders(clipboard: Clipboard, values: Record<string, string>): Clipboard {
  let next: Clipboard = { ...clipboard };
  for (const [path, text] of Object.entries(values)) next = setPath(next, path.split("."), text);
  return withMarks(next, (m) => ({ ...m, placeholders: { ...m.placeholders, ...values } }));
}

/** True when the value at `path` is a placeholder an earlier step of this plan put there. */
export function isPlaceholder(clipboard: Clipboard, path: string): boolean {
  const text = planMarks(clipboard).placeholders[path];
  return text !== undefined && valueAt(clipboard, path) === text;
}

/** True when any of `paths` holds a placeholder. */
export function anyPlaceholder(clipboard: Clipboard, paths: string[]): boolean {
  return paths.some((p) => isPlaceholder(clipboard, p));
}

/** The value at a dotted path, or undefined. */
export function valueAt(clipboard: Clipboard, path: string): unknown {
  let node: unknown = clipboard;
  for (const part of path.split("."))
    node = isRecord(node) && Object.hasOwn(node, part) ? node[part] : undefined;
  return node;
}

/**
 * The clipboard of a step that cannot plan: an `unknown` entry saying why, and the step added to
 * `plan_marks.unknown` so every later entry says it depends on it.
 */
export function withUnknown(clipboard: Clipboard, step: string, why: string): Clipboard {
  const entry: PlanEntry = { step, action: "unknown", target: step, before: null, after: why };
  return withMarks(withPlanEntries(clipboard, [entry]), (m) => ({ ...m, unknown: [...m.unknown, step] }));
}

/** How many entries of each action a plan has. */
export function planCounts(entries: PlanEntry[]): Record<PlanAction, number> {
  const counts: Record<PlanAction, number> = { create: 0, update: 0, delete: 0, none: 0, unknown: 0 };
  for (const e of entries) if (Object.hasOwn(counts, e.action)) counts[e.action]++;
  return counts;
}

/** `create` when there is nothing before, `delete` when nothing after, else `update` or `none`. */
export function actionFor(before: unknown, after: unknown): PlanAction {
  const empty = (v: unknown): boolean =>
    v === null || v === undefined || (Array.isArray(v) && v.length === 0);
  if (empty(before) && empty(after)) return "none";
  if (empty(before)) return "create";
  if (empty(after)) return "delete";
  return JSON.stringify(before) === JSON.stringify(after) ? "none" : "update";
}

function setPath(node: Clipboard, parts: string[], value: string): Clipboard {
  const [head, ...rest] = parts;
  if (head === undefined) return node;
  if (rest.length === 0) return { ...node, [head]: value };
  const child = isRecord(node[head]) ? node[head] : {};
  return { ...node, [head]: setPath(child, rest, value) };
}
