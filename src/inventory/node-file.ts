/**
 * A node directory kept in a YAML file (`nodes: [{host, groups, online, facts}, ...]`): a static
 * inventory for hosts without an agent, and a snapshot of the agents' store that a step on another
 * machine can be handed. Read in the step process, so it checks the shape with type guards rather
 * than loading zod (DESIGN.md: step start-up stays lean).
 */
import { readFileBounded } from "../io/bounded-read.js";
import { parseClipboardYaml } from "../clipboard/clipboard-yaml.js";
import { ConfigError } from "../errors.js";
import type { FactValue, Facts, NodeView } from "./node-view.js";
import { fixedNodeDirectory } from "./select-nodes.js";
import type { NodeDirectory } from "./node-view.js";

/** An inventory file is meant for thousands of nodes, not for anything unbounded. */
const MAX_NODE_FILE_BYTES = 64 * 1024 * 1024;

export async function openNodeFile(path: string): Promise<NodeDirectory> {
  const text = await readFileBounded(path, { maxBytes: MAX_NODE_FILE_BYTES, what: "node file" });
  const document = await parseClipboardYaml(text, `node file ${path}`, {
    maxBytes: MAX_NODE_FILE_BYTES,
  });
  const list = document.nodes;
  if (!Array.isArray(list)) {
    throw new ConfigError("E_NODE_FILE", `node file ${path}: expected 'nodes:' with a list of nodes`);
  }
  return fixedNodeDirectory(
    list.map((item: unknown, index) => nodeOf(item, `node file ${path}: nodes[${index}]`)),
  );
}

function nodeOf(item: unknown, where: string): NodeView {
  if (!isMapping(item) || typeof item.host !== "string" || item.host === "") {
    throw new ConfigError("E_NODE_FILE", `${where} needs a 'host:' name`);
  }
  const { host, groups = [], online = false, last_seen = null, agent_version = null, facts = {} } = item;
  if (!Array.isArray(groups) || !groups.every((g) => typeof g === "string")) {
    throw new ConfigError("E_NODE_FILE", `${where}.groups must be a list of group names`);
  }
  if (typeof online !== "boolean")
    throw new ConfigError("E_NODE_FILE", `${where}.online must be true or false`);
  if (last_seen !== null && typeof last_seen !== "number") {
    throw new ConfigError("E_NODE_FILE", `${where}.last_seen must be milliseconds since the epoch`);
  }
  if (agent_version !== null && typeof agent_version !== "string") {
    throw new ConfigError("E_NODE_FILE", `${where}.agent_version must be a string`);
  }
  if (!isFacts(facts)) {
    throw new ConfigError("E_NODE_FILE", `${where}.facts must be a mapping of JSON values`);
  }
  return { host, groups, online, lastSeen: last_seen, agentVersion: agent_version, facts };
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isFacts(value: unknown): value is Facts {
  return isMapping(value) && Object.values(value).every(isFactValue);
}

function isFactValue(value: unknown): value is FactValue {
  if (value === null || ["string", "number", "boolean"].includes(typeof value)) return true;
  if (Array.isArray(value)) return value.every(isFactValue);
  return isMapping(value) && Object.values(value).every(isFactValue);
}
