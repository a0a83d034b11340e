/**
 * The `inventory` step module. `inventory:query` puts the nodes a selector picks, with the facts
 * a pipeline names, on the clipboard under `inventory.<name>` (src/inventory/inventory-query.ts):
 *
 *   - uses: inventory:query
 *     with: { where: "group=app and online=true", facts: [ipaddresses, os.release], name: app_servers }
 *
 * The node directory comes from `modules.inventory.with.directory` in jarvis.yml (why the step
 * opens it itself: src/inventory/node-directory-kinds.ts).
 */
import { runStepModule, StepFailure } from "../step-sdk/define-step.js";
import type { Clipboard, StepContext } from "../step-sdk/define-step.js";
import { NODE_DIRECTORY_KINDS, openNodeDirectory } from "../inventory/node-directory-kinds.js";
import type { NodeDirectorySettings } from "../inventory/node-directory-kinds.js";
import { queryInventory } from "../inventory/inventory-query.js";
import type { InventoryQuery } from "../inventory/inventory-query.js";
import type { NodeDirectory } from "../inventory/node-view.js";

/** A clipboard key people can write in a template. */
const NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

/** The step's parameters, checked again here: an external caller may hand any JSON. */
export function queryOf(params: Record<string, unknown>): InventoryQuery {
  const { where, facts = [], name = "nodes" } = params;
  if (typeof where !== "string" || where.trim() === "") {
    throw new StepFailure("E_STEP_PARAMS", "inventory:query needs with.where, a selector such as group=app");
  }
  if (!Array.isArray(facts) || !facts.every((f): f is string => typeof f === "string" && f !== "")) {
    throw new StepFailure(
      "E_STEP_PARAMS",
      "inventory:query: with.facts must be a list of fact paths such as os.release",
    );
  }
  if (typeof name !== "string" || !NAME.test(name)) {
    throw new StepFailure("E_STEP_PARAMS", "inventory:query: with.name must be a word such as app_servers");
  }
  return { where, facts, name };
}

function directorySettings(params: Record<string, unknown>): NodeDirectorySettings | undefined {
  const { directory } = params;
  if (directory === undefined) return undefined;
  if (
    typeof directory !== "object" ||
    directory === null ||
    !("kind" in directory) ||
    !("path" in directory) ||
    typeof directory.kind !== "string" ||
    typeof directory.path !== "string"
  ) {
    throw new StepFailure(
      "E_STEP_PARAMS",
      "inventory: modules.inventory.with.directory must be {kind, path}",
    );
  }
  return { kind: directory.kind, path: directory.path };
}

/** The task over any directory: the unit tests hand it a fixed one. */
export async function queryInto(
  clipboard: Clipboard,
  params: Record<string, unknown>,
  directory: NodeDirectory,
  log: (line: string) => void,
): Promise<Clipboard> {
  const query = queryOf(params);
  const result = await queryInventory(directory, query);
  log(`inventory: ${result.count} node(s) where ${query.where}`);
  const previous = clipboard.inventory;
  const inventory =
    typeof previous === "object" && previous !== null && !Array.isArray(previous) ? previous : {};
  return { ...clipboard, inventory: { ...inventory, [query.name]: result } };
}

export async function query(clipboard: Clipboard, ctx: StepContext): Promise<Clipboard> {
  // Parameters first: a bad selector is reported before any file is opened.
  queryOf(ctx.params);
  const settings = directorySettings(ctx.params);
  if (settings === undefined) {
    throw new StepFailure(
      "E_STEP_PARAMS",
      `inventory: no node directory; set modules.inventory.with.directory in jarvis.yml (kinds: ${NODE_DIRECTORY_KINDS.join(", ")})`,
    );
  }
  const directory = await openNodeDirectory(settings);
  return queryInto(clipboard, ctx.params, directory, ctx.log);
}

runStepModule(import.meta.url, { query });
