/**
 * `jarvis store migrate`: copy everything a SQLite store holds into a PostgreSQL store (runs,
 * steps, snapshots, the event feed with its log lines, audit, the agents' nodes with their facts'
 * history, jobs with their nodes and events, and whatever tables later versions add on both
 * sides), in one PostgreSQL transaction, checked by counting rows on both sides. The source is
 * first brought up to date by opening it as jarvis would.
 */
import Database from "better-sqlite3";
import { existsSync } from "node:fs";
import pg from "pg";
import { openSqliteStore } from "./sqlite-store.js";
import { openPostgresStore } from "./postgres-store.js";
import { PostgresContext, describeUrl, passwordOf, quoteIdent } from "./postgres-context.js";
import { pgTypes } from "./postgres-rows.js";
import { StoreError } from "../errors.js";
import type { Queryable } from "./postgres-context.js";

/** What to copy where. */
export interface StoreCopyRequest {
  sqlitePath: string;
  postgresUrl: string;
  /** Empty the target's tables first instead of refusing a target that holds data. */
  replace: boolean;
}

/** Rows copied per table, in copy order. */
export type StoreCopyReport = { table: string; rows: number }[];

/** Tables only PostgreSQL has: its bookkeeping, rebuilt from the copied data. */
const POSTGRES_ONLY = new Set(["schema_migrations", "feed_head"]);
/** Rows per INSERT: well under PostgreSQL's 65535 parameters for any table here. */
const BATCH = 200;

interface Column {
  name: string;
  type: string;
  serial: boolean;
}

export async function copySqliteToPostgres(request: StoreCopyRequest): Promise<StoreCopyReport> {
  if (!existsSync(request.sqlitePath)) {
    throw new StoreError("E_STORE_OPEN", `no SQLite store at ${request.sqlitePath}; check --from`);
  }
  await openSqliteStore(request.sqlitePath).close();
  await (await openPostgresStore(request.postgresUrl)).close();
  const source = new Database(request.sqlitePath, { readonly: true, fileMustExist: true });
  const pool = new pg.Pool({ connectionString: request.postgresUrl, types: pgTypes, max: 1 });
  const context = new PostgresContext(pool, passwordOf(request.postgresUrl));
  try {
    return await context.tx(`copy the store into ${describeUrl(request.postgresUrl)}`, (client) =>
      copyTables(source, client, request),
    );
  } finally {
    source.close();
    await pool.end();
  }
}

async function copyTables(
  source: Database.Database,
  target: Queryable,
  request: StoreCopyRequest,
): Promise<StoreCopyReport> {
  const sourceTables = (
    source
      .prepare(
        `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`,
      )
      .all() as {
      name: string;
    }[]
  ).map((t) => t.name);
  const targetColumns = await columnsOf(target);
  const missing = sourceTables.filter((t) => !targetColumns.has(t));
  if (missing.length > 0) {
    throw new StoreError(
      "E_STORE_SCHEMA",
      `the PostgreSQL store has no table for ${missing.join(", ")}: upgrade jarvis where you run the migration`,
    );
  }
  // Lock out jarvis processes writing meanwhile: their rows would miss the count check.
  const tables = [...targetColumns.keys()];
  await target.query(`LOCK TABLE ${tables.map(quoteIdent).join(", ")} IN EXCLUSIVE MODE`);
  const nonEmpty: string[] = [];
  for (const table of sourceTables) {
    const count = await countRows(target, table);
    if (count > 0) nonEmpty.push(`${table} (${count})`);
  }
  if (nonEmpty.length > 0 && !request.replace) {
    throw new StoreError(
      "E_STORE_NOT_EMPTY",
      `the PostgreSQL store already holds ${nonEmpty.join(", ")}; copy into an empty database, or pass --replace to empty it first`,
    );
  }
  if (nonEmpty.length > 0) await target.query(`TRUNCATE ${sourceTables.map(quoteIdent).join(", ")}`);
  // Derived tables (the per-host index) are copied as the source has them, so the triggers that
  // keep them on the target must not add to them while the runs go in. Transactional: a failed
  // copy rolls this back too.
  for (const table of sourceTables)
    await target.query(`ALTER TABLE ${quoteIdent(table)} DISABLE TRIGGER USER`);

  const report: StoreCopyReport = [];
  for (const table of sourceTables) {
    const columns = targetColumns.get(table) ?? [];
    const sourceNames = new Set(
      (source.prepare(`SELECT name FROM pragma_table_info(?)`).all(table) as { name: string }[]).map(
        (c) => c.name,
      ),
    );
    const shared = columns.filter((c) => sourceNames.has(c.name));
    await copyRows(source, target, table, shared);
    for (const column of columns.filter((c) => c.serial)) {
      await target.query(
        `SELECT setval(pg_get_serial_sequence($1, $2), GREATEST((SELECT max(${quoteIdent(column.name)}) FROM ${quoteIdent(table)}), 1))`,
        [quoteIdent(table), column.name],
      );
    }
    const copied = await countRows(target, table);
    const expected = (source.prepare(`SELECT count(*) AS n FROM ${quoteIdent(table)}`).get() as { n: number })
      .n;
    if (copied !== expected) {
      throw new StoreError(
        "E_STORE_COPY",
        `copied ${copied} of ${expected} rows of ${table}; nothing was kept`,
      );
    }
    report.push({ table, rows: copied });
  }
  // Deferred foreign keys (a job's nodes are copied before the jobs, by name) are checked now:
  // every table is in, and a table with pending checks cannot have its triggers altered.
  await target.query("SET CONSTRAINTS ALL IMMEDIATE");
  for (const table of sourceTables)
    await target.query(`ALTER TABLE ${quoteIdent(table)} ENABLE TRIGGER USER`);
  // The feed continues after the copied events, and each job's events after its copied ones.
  await target.query(`UPDATE feed_head SET seq = COALESCE((SELECT max(seq) FROM events), 0)`);
  await target.query(
    `UPDATE jobs SET last_event_seq = COALESCE((SELECT max(seq) FROM job_events WHERE job_id = jobs.id), 0)`,
  );
  return report;
}

async function copyRows(
  source: Database.Database,
  target: Queryable,
  table: string,
  columns: Column[],
): Promise<void> {
  const names = columns.map((c) => c.name);
  // rowid order keeps ties of created_at in their order (the target numbers them as it inserts);
  // a table WITHOUT ROWID (the per-host index) has no such order to keep.
  const withoutRowid = source.prepare(`SELECT wr FROM pragma_table_list WHERE name = ?`).get(table) as
    { wr: number } | undefined;
  const order = withoutRowid?.wr === 1 ? "" : "ORDER BY rowid";
  const rows = source
    .prepare(`SELECT ${names.map(quoteIdent).join(", ")} FROM ${quoteIdent(table)} ${order}`)
    .iterate() as IterableIterator<Record<string, unknown>>;
  let batch: unknown[][] = [];
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const args: unknown[] = [];
    const values = batch.map((row) => `(${row.map((v) => `$${args.push(v)}`).join(", ")})`);
    await target.query(
      `INSERT INTO ${quoteIdent(table)} (${names.map(quoteIdent).join(", ")}) VALUES ${values.join(", ")}`,
      args,
    );
    batch = [];
  };
  for (const row of rows) {
    batch.push(columns.map((c) => convert(row[c.name], c.type)));
    if (batch.length === BATCH) await flush();
  }
  await flush();
}

/** SQLite keeps booleans as 0/1; everything else maps as it is. */
function convert(value: unknown, type: string): unknown {
  if (type === "boolean" && typeof value === "number") return value !== 0;
  if (typeof value === "bigint") return value.toString();
  return value;
}

async function columnsOf(target: Queryable): Promise<Map<string, Column[]>> {
  const rows = await target.query<{
    table_name: string;
    column_name: string;
    data_type: string;
    column_default: string | null;
  }>(
    `SELECT table_name, column_name, data_type, column_default FROM information_schema.columns
     WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`,
  );
  const tables = new Map<string, Column[]>();
  for (const r of rows.rows) {
    if (POSTGRES_ONLY.has(r.table_name)) continue;
    const list = tables.get(r.table_name) ?? [];
    list.push({
      name: r.column_name,
      type: r.data_type,
      serial: r.column_default?.startsWith("nextval(") ?? false,
    });
    tables.set(r.table_name, list);
  }
  return tables;
}

async function countRows(target: Queryable, table: string): Promise<number> {
  const result = await target.query<{ n: number }>(`SELECT count(*)::bigint AS n FROM ${quoteIdent(table)}`);
  return result.rows[0]?.n ?? 0;
}
