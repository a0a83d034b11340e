/**
 * The run stores jarvis can use, chosen by `store.kind` in jarvis.yml: SQLite (embedded, the
 * default) today; PostgreSQL, for several machines sharing the work, comes next behind the same
 * RunStore interface and passes the same contract suite (test/contract/run-store.contract.ts).
 */
import { ConfigError } from "../errors.js";
import { openSqliteStore } from "./sqlite-store.js";
import type { JarvisConfig } from "../config.js";
import type { RunStore } from "./run-store.js";

/** Opens a store from its jarvis.yml settings. */
export type StoreFactory = (settings: JarvisConfig["store"]) => RunStore;

/** Every store kind, by the name `store.kind` gives it. */
export const storeKinds = {
  sqlite: (settings) => openSqliteStore(settings.path),
} satisfies Record<string, StoreFactory>;

function isStoreKind(kind: string): kind is keyof typeof storeKinds {
  return Object.hasOwn(storeKinds, kind);
}

/** Open the store jarvis.yml names, refusing a kind nobody provides. */
export function openStore(settings: JarvisConfig["store"]): RunStore {
  if (!isStoreKind(settings.kind)) {
    throw new ConfigError(
      "E_CONFIG_FIELD",
      `store.kind '${settings.kind}' is not a store jarvis has (stores: ${Object.keys(storeKinds).join(", ")}); fix store.kind in jarvis.yml`,
    );
  }
  return storeKinds[settings.kind](settings);
}
