/**
 * Whether a node matches a parsed selector. A comparison over a fact the node does not have never
 * matches, whatever the operator (`datacenter!=atlanta` does not pick nodes that never said where
 * they are); only `not` turns that around (`not datacenter=atlanta` does). A fact that is a number
 * compares as a number; a string compares by Debian version ordering for `<` `<=` `>` `>=`, and
 * as text (with `*`/`?` globs in bare values) for `=` and `!=`. A list (`ipaddresses`, groups)
 * matches when any of its items does.
 */
import type { FactValue, NodeView } from "./node-view.js";
import { compareDebianVersions, parseDebianVersion } from "./debian-version.js";
import type { ComparisonOperator, Selector, SelectorField, SelectorValue } from "./selector-parser.js";

type Scalar = string | number | boolean;

export function matchesSelector(node: NodeView, selector: Selector): boolean {
  switch (selector.kind) {
    case "and":
      return selector.terms.every((term) => matchesSelector(node, term));
    case "or":
      return selector.terms.some((term) => matchesSelector(node, term));
    case "not":
      return !matchesSelector(node, selector.term);
    case "hosts":
      return selector.patterns.some((pattern) => globMatch(pattern.text, node.host));
    case "compare":
      return fieldValues(node, selector.field).some((actual) => compare(actual, selector.op, selector.value));
  }
}

/** The scalars a field holds on this node: none when it is missing or not a scalar (or list of). */
function fieldValues(node: NodeView, field: SelectorField): Scalar[] {
  switch (field.kind) {
    case "group":
      return node.groups;
    case "host":
      return [node.host];
    case "online":
      return [node.online];
    case "fact": {
      const value = factAt(node.facts, field.path);
      if (value === undefined || value === null) return [];
      const items = Array.isArray(value) ? value : [value];
      return items.filter((item): item is Scalar => item !== null && typeof item !== "object");
    }
  }
}

/**
 * The fact at a dotted path. Fact names may hold dots themselves (`packages.python3.11`), so at
 * each level the longest run of segments that names a key wins.
 */
export function factAt(value: FactValue | undefined, path: readonly string[]): FactValue | undefined {
  if (path.length === 0) return value;
  if (value === undefined || value === null || typeof value !== "object" || Array.isArray(value)) {
    return undefined;
  }
  for (let take = path.length; take >= 1; take--) {
    const key = path.slice(0, take).join(".");
    if (Object.hasOwn(value, key)) {
      const found = factAt(value[key], path.slice(take));
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

function compare(actual: Scalar, op: ComparisonOperator, expected: SelectorValue): boolean {
  if (op === "=" || op === "!=") {
    const equal =
      typeof actual === "number" && expected.number !== undefined
        ? actual === expected.number
        : expected.quoted
          ? String(actual) === expected.text
          : globMatch(expected.text, String(actual));
    return op === "=" ? equal : !equal;
  }
  const order = ordering(actual, expected);
  if (order === undefined) return false;
  switch (op) {
    case "<":
      return order < 0;
    case "<=":
      return order <= 0;
    case ">":
      return order > 0;
    case ">=":
      return order >= 0;
  }
}

/** How the fact sorts against the value; undefined when they do not compare (no match then). */
function ordering(actual: Scalar, expected: SelectorValue): number | undefined {
  if (typeof actual === "number") {
    return expected.number === undefined ? undefined : Math.sign(actual - expected.number);
  }
  if (typeof actual !== "string") return undefined;
  try {
    return compareDebianVersions(parseDebianVersion(actual), parseDebianVersion(expected.text));
  } catch {
    // A fact that is no version dpkg accepts (an empty string, a bad epoch) is not ordered: the
    // comparison does not match, as for a missing fact. The selector's own value was checked when
    // it was parsed.
    return undefined;
  }
}

/**
 * `*` (any run of characters) and `?` (one character) over the whole text, by the linear
 * backtracking-to-last-star method, so a hostile pattern cannot make matching explode.
 */
export function globMatch(pattern: string, text: string): boolean {
  const p = [...pattern];
  const t = [...text];
  let pi = 0;
  let ti = 0;
  let star = -1;
  let resume = 0;
  while (ti < t.length) {
    if (pi < p.length && (p[pi] === "?" || (p[pi] !== "*" && p[pi] === t[ti]))) {
      pi++;
      ti++;
    } else if (pi < p.length && p[pi] === "*") {
      star = pi++;
      resume = ti;
    } else if (star >= 0) {
      pi = star + 1;
      ti = ++resume;
    } else {
      return false;
    }
  }
  while (pi < p.length && p[pi] === "*") pi++;
  return pi === p.length;
}
