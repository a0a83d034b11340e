/**
 * What the parts of the PostgreSQL store share: the pool, transactions, the database clock and
 * the error guard that keeps the connection URL's password out of every message.
 */
import pg from "pg";
import { RunError, StoreError } from "../errors.js";

/** The database's clock in ms, read when the statement runs (not when its transaction began). */
export const NOW = `(extract(epoch from clock_timestamp()) * 1000)::bigint`;

/** The SQLSTATE of a unique-index violation. */
const UNIQUE_VIOLATION = "23505";

/** Statement text to its name: one name per text, for the whole process. */
const statementNames = new Map<string, string>();

/**
 * `text` as a named query: each connection parses and plans it once, then only binds and runs
 * it (PostgreSQL switches to a generic plan after five runs when that plan is no worse). For the
 * statements every step runs: planning their CTEs took as long as running them. Only for texts
 * from a fixed set (values go in `values`), as each connection keeps every statement it prepared.
 */
export function prepared(text: string, values: unknown[]): pg.QueryConfig {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `jarvis_${statementNames.size + 1}`;
    statementNames.set(text, name);
  }
  return { name, text, values };
}

/** One connection, inside a transaction or not: what every query helper takes. */
export type Queryable = Pick<pg.PoolClient, "query">;

/** A URL as it may be shown: with its password masked. */
export function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "postgres://(unparsable URL)";
  }
}

/** The URL's password (decoded), so it can be cut out of driver messages; "" when it has none. */
export function passwordOf(url: string): string {
  try {
    return decodeURIComponent(new URL(url).password);
  } catch {
    return "";
  }
}

/** A table or column name as an SQL identifier, quoted. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Whether `err` is a unique-index violation on the named index. */
export function isUniqueViolation(err: unknown, index: string): boolean {
  return err instanceof pg.DatabaseError && err.code === UNIQUE_VIOLATION && err.constraint === index;
}

/** The pool and helpers every part of the PostgreSQL store works through. */
export class PostgresContext {
  /** Pooled connections whose socket is not closed yet (pg-pool forgets them earlier). */
  private readonly open = new Set<pg.PoolClient>();
  private allClosed: (() => void) | undefined;

  constructor(
    readonly pool: pg.Pool,
    private readonly password: string,
    /** Whose pool it is, in messages: the run store, or the agents' node store beside it. */
    private readonly what = "run store",
  ) {
    pool.on("connect", (client) => this.open.add(client));
    // Emitted once a removed connection's socket is closed, not when the pool lets go of it.
    pool.on("remove", (client) => {
      this.open.delete(client);
      if (this.open.size === 0) this.allClosed?.();
    });
  }

  /**
   * End the pool and wait until every connection is closed: pool.end() resolves as soon as it has
   * asked them to close, and a server stopped in between sends each of them a "terminating
   * connection" error.
   */
  async end(): Promise<void> {
    const closed = new Promise<void>((resolve) => (this.allClosed = resolve));
    await this.pool.end();
    if (this.open.size > 0) await closed;
  }

  /** One statement on any pooled connection, its rows typed by the caller's row shape. */
  async rows<R extends pg.QueryResultRow>(what: string, sql: string, args: unknown[] = []): Promise<R[]> {
    return this.guard(what, async () => (await this.pool.query<R>(sql, args)).rows);
  }

  /** As rows(), as a prepared statement (see prepared()). */
  async preparedRows<R extends pg.QueryResultRow>(what: string, sql: string, args: unknown[]): Promise<R[]> {
    return this.guard(what, async () => (await this.pool.query<R>(prepared(sql, args))).rows);
  }

  /** Run `fn` in one transaction on one connection; rolled back if it throws. */
  async tx<T>(what: string, fn: (client: Queryable) => Promise<T>): Promise<T> {
    return this.guard(what, async () => {
      const client = await this.pool.connect();
      // A connection whose ROLLBACK failed is broken: the pool must drop it, not hand it out again.
      let broken: Error | undefined;
      try {
        await client.query("BEGIN");
        const result = await fn(client);
        await client.query("COMMIT");
        return result;
      } catch (err) {
        try {
          await client.query("ROLLBACK");
        } catch (rollbackErr) {
          broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
        }
        throw err;
      } finally {
        client.release(broken);
      }
    });
  }

  /** Run `fn`, turning a driver error into StoreError E_STORE_IO that names what failed. */
  async guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof RunError || err instanceof StoreError) throw err;
      throw new StoreError("E_STORE_IO", `${this.what} failed to ${what}: ${this.scrub(err)}`, {
        cause: err,
        retryable: true,
      });
    }
  }

  /** An error's message with the password cut out, whatever the driver put in it. */
  scrub(err: unknown): string {
    const message = err instanceof Error ? err.message : String(err);
    return this.password ? message.split(this.password).join("***") : message;
  }
}
