/**
 * The per-host index in SQLite: one `hosts` row per host that has runs, naming its latest run and
 * counting its runs, so "every host and where it stands" is a keyset walk over `hosts` joined to
 * `runs` by primary key, not a scan of every run. Triggers on `runs` keep it current inside the
 * very transaction that inserts or deletes a run, whichever code path does so (a write path added
 * later cannot forget it). A run's state, step and error are read from `runs` through the join, so
 * finishing, cancelling or retrying a run needs no second write to stay consistent.
 */
import type Database from "better-sqlite3";
import { RunError } from "../errors.js";
import { toRun } from "./sqlite-rows.js";
import type { RunRow } from "./sqlite-rows.js";
import type { SqliteContext } from "./sqlite-context.js";
import type { HistoryPage, HistoryQuery, HostPage, HostQuery } from "./run-store.js";

/** Page size when a query gives none, and the largest one served. */
export const DEFAULT_PAGE = 100;
export const MAX_PAGE = 10_000;

const INDEX_SCHEMA = `
CREATE TABLE IF NOT EXISTS hosts (
  host TEXT PRIMARY KEY, run_id TEXT NOT NULL, run_created_at INTEGER NOT NULL, run_count INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS hosts_on_run_insert AFTER INSERT ON runs BEGIN
  INSERT INTO hosts (host, run_id, run_created_at, run_count) VALUES (NEW.host, NEW.id, NEW.created_at, 1)
  ON CONFLICT (host) DO UPDATE SET run_count = run_count + 1,
    run_id = CASE WHEN excluded.run_created_at >= run_created_at THEN excluded.run_id ELSE run_id END,
    run_created_at = max(run_created_at, excluded.run_created_at);
END;
CREATE TRIGGER IF NOT EXISTS hosts_on_run_delete AFTER DELETE ON runs BEGIN
  UPDATE hosts SET run_count = run_count - 1 WHERE host = OLD.host;
  DELETE FROM hosts WHERE host = OLD.host AND run_count <= 0;
  UPDATE hosts SET (run_id, run_created_at) = (
    SELECT id, created_at FROM runs WHERE host = OLD.host ORDER BY created_at DESC, rowid DESC LIMIT 1)
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
      INSERT INTO hosts (host, run_id, run_created_at, run_count)
      SELECT host, id, created_at, n FROM (
        SELECT host, id, created_at, count(*) OVER (PARTITION BY host) AS n,
          row_number() OVER (PARTITION BY host ORDER BY created_at DESC, rowid DESC) AS newest
        FROM runs)
      WHERE newest = 1`);
  })();
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
      const rows = this.stmt(
        `SELECT r.*, h.run_count AS host_run_count FROM hosts h JOIN runs r ON r.id = h.run_id
         WHERE h.host > ? ORDER BY h.host LIMIT ?`,
      ).all(query.after ?? "", limit + 1) as (RunRow & { host_run_count: number })[];
      const total = (this.stmt(`SELECT count(*) AS n FROM hosts`).get() as { n: number }).n;
      const page = rows.slice(0, limit);
      return {
        hosts: page.map((row) => ({ host: row.host, latest: toRun(row), runCount: row.host_run_count })),
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
