/**
 * The run stores jarvis can use, chosen by `store:` in jarvis.yml: SQLite (embedded, the default,
 * `store: {path: ...}`) or PostgreSQL for several machines sharing the work (`store: {url:
 * postgres://...}`). Both pass the same contract suite (test/contract/run-store.contract.ts).
 */
import { ConfigError } from "../errors.js";
import { openSqliteStore } from "./sqlite-store.js";
import { openPostgresStore } from "./postgres-store.js";
import { describeUrl } from "./postgres-context.js";
import type { JarvisConfig } from "../config.js";
import type { RunStore } from "./run-store.js";

/** Opens a store from its jarvis.yml settings. */
export type StoreFactory = (settings: JarvisConfig["store"]) => RunStore | Promise<RunStore>;

/** Every store kind, by the name `store.kind` gives it. */
export const storeKinds = {
  sqlite: (settings) => openSqliteStore(settings.path),
  postgres: (settings) => openPostgresStore(postgresUrlOf(settings)),
} satisfies Record<string, StoreFactory>;

/** The kinds of store jarvis.yml may name. */
export type StoreKind = keyof typeof storeKinds;

/** The URL of a PostgreSQL store's settings. */
export function postgresUrlOf(settings: JarvisConfig["store"]): string {
  if (settings.url === undefined) {
    throw new ConfigError("E_CONFIG_FIELD", "store.kind postgres needs store.url; set it in jarvis.yml");
  }
  return settings.url;
}

function isStoreKind(kind: string): kind is keyof typeof storeKinds {
  return Object.hasOwn(storeKinds, kind);
}

/** The kind jarvis.yml names, refusing one nobody provides. */
export function storeKindOf(settings: JarvisConfig["store"]): StoreKind {
  if (!isStoreKind(settings.kind)) {
    throw new ConfigError(
      "E_CONFIG_FIELD",
      `store.kind '${settings.kind}' is not a store jarvis has (stores: ${Object.keys(storeKinds).join(", ")}); fix store.kind in jarvis.yml`,
    );
  }
  return settings.kind;
}

/** Open the store jarvis.yml names. */
export async function openStore(settings: JarvisConfig["store"]): Promise<RunStore> {
  return storeKinds[storeKindOf(settings)](settings);
}

/** The store as it may be shown to people: the SQLite file, or the URL without its password. */
export function describeStore(settings: JarvisConfig["store"]): string {
  return settings.url !== undefined ? describeUrl(settings.url) : settings.path;
}
