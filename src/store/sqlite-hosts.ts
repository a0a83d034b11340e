/**
 * The per-host index in SQLite: one `hosts` row per host that has runs, a copy of its latest run's
 * summary and its run count, so "every host and where it stands" is a keyset walk over
 * its own compact rows, not a scan of every run. Triggers on `runs` keep it current inside the very
 * transaction that creates, claims, finishes, cancels, retries or deletes a run, whichever code
 * path does so (a write path added later cannot forget it). Lease renewals touch no copied column,
 * so they do not fire.
 */
import type Database from "better-sqlite3";
import { RunError } from "../errors.js";
import { HOST_ENTRY_COLUMNS, toHostEntry, toRun } from "./run-rows.js";
import { NOW } from "./sqlite-context.js";
import type { HostRow, RunRow } from "./run-rows.js";
import type { SqliteContext } from "./sqlite-context.js";
import type { HistoryPage, HistoryQuery, HostPage, HostQuery } from "./run-store.js";

/** Page size when a query gives none, and the largest one served. */
export const DEFAULT_PAGE = 100;
export const MAX_PAGE = 10_000;

const copied = HOST_ENTRY_COLUMNS.join(", ");
const fromNew = HOST_ENTRY_COLUMNS.map((c) => `NEW.${c}`).join(", ");
const setFromNew = HOST_ENTRY_COLUMNS.map((c) => `${c} = NEW.${c}`).join(", ");

const INDEX_SCHEMA = `
CREATE TABLE IF NOT EXISTS hosts (
  host TEXT PRIMARY KEY, run_id TEXT NOT NULL, run_count INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  pipeline TEXT NOT NULL, state TEXT NOT NULL, step_index INTEGER NOT NULL, step_name TEXT,
  total_steps INTEGER NOT NULL, requested_by TEXT NOT NULL, origin TEXT NOT NULL, source TEXT NOT NULL,
  created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER, error_json TEXT, group_id TEXT,
  after_json TEXT NOT NULL, forced INTEGER NOT NULL, approval_json TEXT, approval_expires_at INTEGER,
  plan INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS hosts_on_run_insert AFTER INSERT ON runs BEGIN
  INSERT INTO hosts (host, run_id, run_count, updated_at, ${copied})
  VALUES (NEW.host, NEW.id, 1, ${NOW}, ${fromNew})
  ON CONFLICT (host) DO UPDATE SET run_count = run_count + 1, updated_at = excluded.updated_at,
    run_id = CASE WHEN excluded.created_at >= created_at THEN excluded.run_id ELSE run_id END,
    ${HOST_ENTRY_COLUMNS.map((c) => `${c} = CASE WHEN excluded.created_at >= created_at THEN excluded.${c} ELSE ${c} END`).join(",\n    ")};
END;
CREATE TRIGGER IF NOT EXISTS hosts_on_run_update AFTER UPDATE OF ${HOST_ENTRY_COLUMNS.filter((c) => c !== "created_at").join(", ")} ON runs BEGIN
  UPDATE hosts SET updated_at = ${NOW}, ${setFromNew} WHERE host = NEW.host AND run_id = NEW.id;
END;
CREATE TRIGGER IF NOT EXISTS hosts_on_run_delete AFTER DELETE ON runs BEGIN
  UPDATE hosts SET run_count = run_count - 1 WHERE host = OLD.host;
  DELETE FROM hosts WHERE host = OLD.host AND run_count <= 0;
  UPDATE hosts SET updated_at = ${NOW}, (run_id, ${copied}) = (
    SELECT id, ${copied} FROM runs WHERE host = OLD.host ORDER BY created_at DESC, rowid DESC LIMIT 1)
  WHERE host = OLD.host AND run_id = OLD.id;
END;
CREATE INDEX IF NOT EXISTS runs_by_host_newest ON runs(host, created_at DESC, id DESC);
`;

/** Create the index, filling it from the runs already stored the first time (one transaction). */
export function migrateHostIndex(db: Database.Database): void {
  const exists = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'hosts'`).get();
  db.transaction(() => {
    db.exec(INDEX_SCHEMA);
    if (exists) return;
    db.exec(`
      INSERT INTO hosts (host, run_id, run_count, updated_at, ${copied})
      SELECT host, id, n, ${NOW}, ${copied} FROM (
        SELECT *, count(*) OVER (PARTITION BY host) AS n,
          row_number() OVER (PARTITION BY host ORDER BY created_at DESC, rowid DESC) AS newest
        FROM runs)
      WHERE newest = 1`);
  }).immediate();
}

/** The index's reads over the store's connection. */
export class SqliteHosts {
  private readonly stmt: SqliteContext["stmt"];
  private readonly guard: SqliteContext["guard"];

  constructor(context: SqliteContext) {
    this.stmt = context.stmt;
    this.guard = context.guard;
  }

  listHosts(query: HostQuery): HostPage {
    const limit = pageSize(query.limit);
    return this.guard("list hosts", () => {
      const rows = this.stmt(`SELECT * FROM hosts WHERE host > ? ORDER BY host LIMIT ?`).all(
        query.after ?? "",
        limit + 1,
      ) as HostRow[];
      const total = (this.stmt(`SELECT count(*) AS n FROM hosts`).get() as { n: number }).n;
      const page = rows.slice(0, limit);
      return {
        hosts: page.map(toHostEntry),
        next: rows.length > limit ? (page.at(-1)?.host ?? null) : null,
        total,
      };
    });
  }

  hostHistory(host: string, query: HistoryQuery): HistoryPage {
    const limit = pageSize(query.limit);
    return this.guard("read a host's history", () => {
      let rows: RunRow[];
      if (query.before === undefined) {
        rows = this.stmt(`SELECT * FROM runs WHERE host = ? ORDER BY created_at DESC, id DESC LIMIT ?`).all(
          host,
          limit + 1,
        ) as RunRow[];
      } else {
        const cursor = this.stmt(`SELECT created_at FROM runs WHERE id = ? AND host = ?`).get(
          query.before,
          host,
        ) as { created_at: number } | undefined;
        if (!cursor) {
          throw new RunError(
            "E_RUN_NOT_FOUND",
            `the history cursor '${query.before.slice(0, 20)}' is no run of ${host}; start again from the newest runs`,
          );
        }
        rows = this.stmt(
          `SELECT * FROM runs WHERE host = ? AND (created_at < ? OR (created_at = ? AND id < ?))
           ORDER BY created_at DESC, id DESC LIMIT ?`,
        ).all(host, cursor.created_at, cursor.created_at, query.before, limit + 1) as RunRow[];
      }
      const page = rows.slice(0, limit).map(toRun);
      return { runs: page, next: rows.length > limit ? (page.at(-1)?.id ?? null) : null };
    });
  }
}

function pageSize(limit: number | undefined): number {
  return Math.min(Math.max(1, Math.floor(limit ?? DEFAULT_PAGE)), MAX_PAGE);
}
