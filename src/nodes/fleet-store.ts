/**
 * The node and job stores on the SQLite file of the runs: a second connection to the same file
 * (WAL), so the run store stays as it is and a PostgreSQL store can add its own pair.
 */
import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { StoreError } from "../errors.js";
import { SqliteJobStore } from "../jobs/sqlite-job-store.js";
import type { JobStore } from "../jobs/job-store.js";
import { SqliteNodeStore } from "./sqlite-node-store.js";
import type { NodeStore } from "./node-store.js";

export interface FleetStore {
  nodes: NodeStore;
  jobs: JobStore;
  close(): void;
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
  return { nodes: new SqliteNodeStore(db), jobs: new SqliteJobStore(db), close: () => db.close() };
}
