/** What the parts of the SQLite store share: the connection, its statement cache and error guard. */
import type Database from "better-sqlite3";

/** The store's clock in ms, evaluated inside each statement: the one clock leases are measured by. */
export const NOW = `CAST(unixepoch('subsec') * 1000 AS INTEGER)`;

/** The connection and helpers every part of the SQLite store works through. */
export interface SqliteContext {
  db: Database.Database;
  /** A prepared statement, cached per SQL text. */
  stmt(sql: string): Database.Statement;
  /** Run `fn`, turning a driver error into StoreError E_STORE_IO that names `what` failed. */
  guard<T>(what: string, fn: () => T): T;
}
