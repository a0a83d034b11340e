/**
 * The per-host index in PostgreSQL: one `hosts` row per host that has runs, a copy of its latest
 * run's summary and its run count, so "every host and where it stands" is a keyset walk over its
 * own compact rows, not a scan of every run. PL/pgSQL triggers on `runs` keep it current inside
 * the very transaction (and statement) that creates, claims, finishes, cancels, retries or deletes
 * a run, whichever code path does so. Lease renewals touch no copied column, so they do not fire.
 */
import { RunError } from "../errors.js";
import { NOW } from "./postgres-context.js";
import { RUN_COLUMNS } from "./postgres-rows.js";
import { HOST_ENTRY_COLUMNS, toHostEntry, toRun } from "./run-rows.js";
import type { PostgresContext } from "./postgres-context.js";
import type { HostRow, RunRow } from "./run-rows.js";
import type { HistoryPage, HistoryQuery, HostPage, HostQuery } from "./run-store.js";

/** Page size when a query gives none, and the largest one served (as the SQLite store). */
const DEFAULT_PAGE = 100;
const MAX_PAGE = 10_000;

const copied = HOST_ENTRY_COLUMNS.join(", ");
const newerWins = HOST_ENTRY_COLUMNS.map(
  (c) => `${c} = CASE WHEN EXCLUDED.created_at >= hosts.created_at THEN EXCLUDED.${c} ELSE hosts.${c} END`,
).join(",\n      ");

/** Migration: the table, its triggers, and its rows for the runs already stored. */
export const HOST_INDEX_SCHEMA = `
CREATE TABLE hosts (
  -- Byte order, as SQLite compares: the keyset cursor means the same on both stores.
  host TEXT COLLATE "C" PRIMARY KEY, run_id TEXT NOT NULL, run_count INTEGER NOT NULL, updated_at BIGINT NOT NULL,
  pipeline TEXT NOT NULL, state TEXT NOT NULL, step_index INTEGER NOT NULL, step_name TEXT,
  total_steps INTEGER NOT NULL, requested_by TEXT NOT NULL, origin TEXT NOT NULL, source TEXT NOT NULL,
  created_at BIGINT NOT NULL, started_at BIGINT, finished_at BIGINT, error_json TEXT, group_id TEXT,
  after_json TEXT NOT NULL, forced BOOLEAN NOT NULL, approval_json TEXT, approval_expires_at BIGINT,
  plan BOOLEAN NOT NULL
);
CREATE INDEX runs_by_host_newest ON runs(host, created_at DESC, id DESC);
CREATE FUNCTION hosts_on_run_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO hosts (host, run_id, run_count, updated_at, ${copied})
  VALUES (NEW.host, NEW.id, 1, ${NOW}, ${HOST_ENTRY_COLUMNS.map((c) => `NEW.${c}`).join(", ")})
  ON CONFLICT (host) DO UPDATE SET run_count = hosts.run_count + 1, updated_at = EXCLUDED.updated_at,
      run_id = CASE WHEN EXCLUDED.created_at >= hosts.created_at THEN EXCLUDED.run_id ELSE hosts.run_id END,
      ${newerWins};
  RETURN NULL;
END $$;
CREATE FUNCTION hosts_on_run_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE hosts SET updated_at = ${NOW}, ${HOST_ENTRY_COLUMNS.map((c) => `${c} = NEW.${c}`).join(", ")}
  WHERE host = NEW.host AND run_id = NEW.id;
  RETURN NULL;
END $$;
CREATE FUNCTION hosts_on_run_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE hosts SET run_count = run_count - 1 WHERE host = OLD.host;
  DELETE FROM hosts WHERE host = OLD.host AND run_count <= 0;
  UPDATE hosts SET updated_at = ${NOW}, (run_id, ${copied}) = (
    SELECT id, ${copied} FROM runs WHERE host = OLD.host ORDER BY created_at DESC, created_order DESC LIMIT 1)
  WHERE host = OLD.host AND run_id = OLD.id;
  RETURN NULL;
END $$;
CREATE TRIGGER hosts_on_run_insert AFTER INSERT ON runs FOR EACH ROW EXECUTE FUNCTION hosts_on_run_insert();
CREATE TRIGGER hosts_on_run_update AFTER UPDATE OF ${HOST_ENTRY_COLUMNS.filter((c) => c !== "created_at").join(", ")}
  ON runs FOR EACH ROW EXECUTE FUNCTION hosts_on_run_update();
CREATE TRIGGER hosts_on_run_delete AFTER DELETE ON runs FOR EACH ROW EXECUTE FUNCTION hosts_on_run_delete();
INSERT INTO hosts (host, run_id, run_count, updated_at, ${copied})
SELECT host, id, n, ${NOW}, ${copied} FROM (
  SELECT *, count(*) OVER (PARTITION BY host) AS n,
    row_number() OVER (PARTITION BY host ORDER BY created_at DESC, created_order DESC) AS newest
  FROM runs) AS r
WHERE newest = 1;`;

/** The index's reads over the store's pool. */
export class PostgresHosts {
  constructor(private readonly context: PostgresContext) {}

  async listHosts(query: HostQuery): Promise<HostPage> {
    const limit = pageSize(query.limit);
    const rows = await this.context.rows<HostRow & { total: number }>(
      "list hosts",
      `SELECT h.*, (SELECT count(*) FROM hosts) AS total FROM hosts h WHERE host > $1 ORDER BY host LIMIT $2`,
      [query.after ?? "", limit + 1],
    );
    const total =
      rows[0]?.total ??
      (await this.context.rows<{ n: number }>("list hosts", `SELECT count(*) AS n FROM hosts`))[0]?.n ??
      0;
    const page = rows.slice(0, limit);
    return {
      hosts: page.map(toHostEntry),
      next: rows.length > limit ? (page.at(-1)?.host ?? null) : null,
      total,
    };
  }

  async hostHistory(host: string, query: HistoryQuery): Promise<HistoryPage> {
    const limit = pageSize(query.limit);
    let rows: RunRow[];
    if (query.before === undefined) {
      rows = await this.context.rows<RunRow>(
        "read a host's history",
        `SELECT ${RUN_COLUMNS} FROM runs WHERE host = $1 ORDER BY created_at DESC, id DESC LIMIT $2`,
        [host, limit + 1],
      );
    } else {
      const cursor = await this.context.rows<{ created_at: number }>(
        "read a host's history",
        `SELECT created_at FROM runs WHERE id = $1 AND host = $2`,
        [query.before, host],
      );
      const createdAt = cursor[0]?.created_at;
      if (createdAt === undefined) {
        throw new RunError(
          "E_RUN_NOT_FOUND",
          `the history cursor '${query.before.slice(0, 20)}' is no run of ${host}; start again from the newest runs`,
        );
      }
      rows = await this.context.rows<RunRow>(
        "read a host's history",
        `SELECT ${RUN_COLUMNS} FROM runs WHERE host = $1 AND (created_at, id) < ($2, $3)
         ORDER BY created_at DESC, id DESC LIMIT $4`,
        [host, createdAt, query.before, limit + 1],
      );
    }
    const page = rows.slice(0, limit).map(toRun);
    return { runs: page, next: rows.length > limit ? (page.at(-1)?.id ?? null) : null };
  }
}

function pageSize(limit: number | undefined): number {
  return Math.min(Math.max(1, Math.floor(limit ?? DEFAULT_PAGE)), MAX_PAGE);
}
