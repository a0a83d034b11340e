/**
 * The node directory jarvis itself answers `hosts` from, until the agents' node store is the
 * default: the one `inventory:query` steps read (`modules.inventory.with.directory` in
 * jarvis.yml), so chat, the CLI and pipelines see the same nodes.
 */
import type { JarvisConfig } from "../config.js";
import { inventoryParams } from "../workers/worker-params.js";
import { configuredNodeDirectory } from "./node-directory-kinds.js";
import type { NodeDirectory } from "./node-view.js";

export function nodeDirectoryFromConfig(config: JarvisConfig): NodeDirectory | undefined {
  // Checked when jarvis.yml was loaded; parsed again here for its type.
  const { directory } = inventoryParams.parse(config.modules.inventory?.with ?? {});
  return directory === undefined ? undefined : configuredNodeDirectory(directory);
}
