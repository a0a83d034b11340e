/**
 * `inventory:query`: the nodes a selector picks and the facts a pipeline asks for, written on the
 * clipboard under `inventory.<name>` (the Rex search API: a proxy's configuration built from all
 * app servers of a group). Facts are keyed by the path as written (`os.family`), so a template
 * reads `inventory.app_servers.hosts[0].facts["ipaddresses"]` without knowing how deep it was.
 */
import type { FactValue, NodeDirectory } from "./node-view.js";
import { selectNodes } from "./select-nodes.js";
import { factAt } from "./selector-match.js";
import { parseSelector } from "./selector-parser.js";

export interface InventoryQuery {
  where: string;
  /** Fact paths to copy (`ipaddresses`, `os.release`); a node without one gets null there. */
  facts: string[];
  /** The key under `inventory:` (several queries in one pipeline keep apart). */
  name: string;
}

export interface QueriedNode {
  host: string;
  online: boolean;
  groups: string[];
  facts: Record<string, FactValue>;
}

export interface InventoryQueryResult {
  where: string;
  count: number;
  hosts: QueriedNode[];
}

export async function queryInventory(
  directory: NodeDirectory,
  query: InventoryQuery,
): Promise<InventoryQueryResult> {
  const nodes = await selectNodes(directory, parseSelector(query.where));
  return {
    where: query.where,
    count: nodes.length,
    hosts: nodes.map((node) => ({
      host: node.host,
      online: node.online,
      groups: node.groups,
      facts: Object.fromEntries(
        query.facts.map((path) => [path, factAt(node.facts, path.split(".")) ?? null]),
      ),
    })),
  };
}
