/**
 * The nodes of a directory that a selector picks, in host order: what `hosts where ...`, the
 * `inventory:query` step and (later) jobs' `where` targets share.
 */
import type { NodeDirectory, NodeView } from "./node-view.js";
import { parseSelector } from "./selector-parser.js";
import type { Selector } from "./selector-parser.js";
import { matchesSelector } from "./selector-match.js";

/** Throws SelectorError (before reading the directory) when `selector` is text that does not parse. */
export async function selectNodes(
  directory: NodeDirectory,
  selector: Selector | string,
): Promise<NodeView[]> {
  const parsed = typeof selector === "string" ? parseSelector(selector) : selector;
  const nodes = await directory.list();
  return nodes
    .filter((node) => matchesSelector(node, parsed))
    .sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
}

/** A directory over a fixed list of nodes: tests, and steps handed a snapshot of the inventory. */
export function fixedNodeDirectory(nodes: readonly NodeView[]): NodeDirectory {
  return {
    list: () => Promise.resolve([...nodes]),
    get: (host) => Promise.resolve(nodes.find((node) => node.host === host)),
  };
}
