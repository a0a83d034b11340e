/**
 * The agents' node and job stores, beside the runs in the store jarvis.yml names (`store.kind`):
 * on SQLite a second connection to the runs' file (WAL), on PostgreSQL a pool on the runs'
 * database, so every replica sees the same nodes and jobs.
 */
import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { StoreError } from "../errors.js";
import { SqliteJobStore } from "../jobs/sqlite-job-store.js";
import { PostgresJobStore } from "../jobs/postgres-job-store.js";
import type { JobStore } from "../jobs/job-store.js";
import { soleJobControl } from "../jobs/job-control.js";
import type { JobControl } from "../jobs/job-control.js";
import { PostgresJobControl } from "../jobs/postgres-job-control.js";
import { postgresUrlOf, storeKindOf } from "../store/registry.js";
import type { StoreKind } from "../store/registry.js";
import { openMigratedPool } from "../store/postgres-pool.js";
import type { JarvisConfig } from "../config.js";
import { SqliteNodeStore } from "./sqlite-node-store.js";
import { PostgresNodeStore } from "./postgres-node-store.js";
import type { NodeStore } from "./node-store.js";

export interface FleetStore {
  nodes: NodeStore;
  jobs: JobStore;
  /** Which process drives the jobs: the one service on SQLite, a lease's holder on PostgreSQL. */
  control: JobControl;
  close(): Promise<void>;
}

type FleetStoreFactory = (settings: JarvisConfig["store"]) => FleetStore | Promise<FleetStore>;

/** A fleet store for every kind of run store. */
export const fleetStoreKinds = {
  sqlite: (settings) => openSqliteFleetStore(settings.path),
  postgres: (settings) => openPostgresFleetStore(postgresUrlOf(settings)),
} satisfies Record<StoreKind, FleetStoreFactory>;

/** The node and job stores in the store jarvis.yml names. */
export async function openFleetStore(settings: JarvisConfig["store"]): Promise<FleetStore> {
  return fleetStoreKinds[storeKindOf(settings)](settings);
}

export function openSqliteFleetStore(path: string): FleetStore {
  let db: Database.Database;
  try {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    db = new Database(path);
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma("busy_timeout = 10000");
  } catch (err) {
    throw new StoreError(
      "E_STORE_OPEN",
      `cannot open the node store ${path}: ${(err as Error).message}; check store.path in jarvis.yml`,
      { cause: err },
    );
  }
  return {
    nodes: new SqliteNodeStore(db),
    jobs: new SqliteJobStore(db),
    control: soleJobControl,
    close: async () => {
      db.close();
    },
  };
}

export async function openPostgresFleetStore(
  url: string,
  warn: (message: string) => void = console.error,
): Promise<FleetStore> {
  // Heartbeats, facts and a fan-out's replies come in bursts; the run store keeps its own pool.
  const { context } = await openMigratedPool(url, { poolSize: 10, warn, what: "node store" });
  let closed = false;
  return {
    nodes: new PostgresNodeStore(context),
    jobs: new PostgresJobStore(context),
    control: new PostgresJobControl(context),
    close: async () => {
      if (closed) return;
      closed = true;
      await context.end();
    },
  };
}
