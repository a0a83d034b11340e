/**
 * Where a forked step finds the node directory. A step is its own process, maybe on another
 * machine behind a NATS worker, and gets only its parameters and the secrets its module names
 * (src/pipeline/step-environment.ts): jarvis's open node store cannot cross the fork. So the
 * step opens a directory itself from settings in jarvis.yml (`modules.inventory.with.directory:
 * {kind, path}`), the way `monitoring` reaches Alertmanager from `modules.monitoring.with.url`.
 * The kind is named, never guessed from the path; a new kind (the agents' node store, read-only,
 * or jarvis's `GET /nodes` for steps far from the store) is one more entry here.
 */
import { ConfigError } from "../errors.js";
import type { NodeDirectory } from "./node-view.js";
import { openNodeFile } from "./node-file.js";

/** Settings of one directory kind, as jarvis.yml gives them (checked by the registry's schema). */
export interface NodeDirectorySettings {
  kind: string;
  path: string;
}

/** The kinds' names, for the `with` schema and messages. */
export const NODE_DIRECTORY_KINDS = ["file"] as const;
type NodeDirectoryKind = (typeof NODE_DIRECTORY_KINDS)[number];

export const nodeDirectoryKinds: Readonly<
  Record<NodeDirectoryKind, (settings: NodeDirectorySettings) => Promise<NodeDirectory>>
> = {
  file: (settings) => openNodeFile(settings.path),
};

function isKind(kind: string): kind is NodeDirectoryKind {
  return Object.hasOwn(nodeDirectoryKinds, kind);
}

export function openNodeDirectory(settings: NodeDirectorySettings): Promise<NodeDirectory> {
  if (!isKind(settings.kind)) {
    throw new ConfigError(
      "E_CONFIG_FIELD",
      `inventory: directory kind '${settings.kind}' is not one jarvis has (${NODE_DIRECTORY_KINDS.join(", ")}); fix modules.inventory.with.directory.kind`,
    );
  }
  return nodeDirectoryKinds[settings.kind](settings);
}

/**
 * A directory that opens the configured one on every look, so `hosts` sees a node file as it is
 * now (jarvis runs for weeks; the file changes under it).
 */
export function configuredNodeDirectory(settings: NodeDirectorySettings): NodeDirectory {
  return {
    list: async () => (await openNodeDirectory(settings)).list(),
    get: async (host) => (await openNodeDirectory(settings)).get(host),
  };
}
