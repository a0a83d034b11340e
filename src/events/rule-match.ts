/**
 * Whether an event is one a rule is about: its kind, the globs on its path and data, and the
 * selector on the node it came from (a node jarvis has no facts for yet matches no `where`).
 */
import type { NodeView } from "../inventory/node-view.js";
import { matchesSelector } from "../inventory/selector-match.js";
import type { NewNodeEvent } from "../store/node-event-store.js";
import type { EventRule } from "./rules-schema.js";

/** Kind, path and data: what the event alone decides. */
export function eventMatches(rule: EventRule, event: NewNodeEvent): boolean {
  if (rule.event !== event.kind) return false;
  if (rule.path && !rule.path.re.test(scalarText(event.data.path))) return false;
  return rule.data.every(({ key, re }) => re.test(scalarText(event.data[key])));
}

export function nodeMatches(rule: EventRule, node: NodeView | undefined): boolean {
  if (!rule.where) return true;
  return node !== undefined && matchesSelector(node, rule.where.selector);
}

/** A data field as the text its glob is matched on; absent or not a scalar: matches no glob but `*`. */
function scalarText(value: unknown): string {
  return typeof value === "string" || typeof value === "number" || typeof value === "boolean"
    ? String(value)
    : "";
}
