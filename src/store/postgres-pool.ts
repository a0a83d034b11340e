/**
 * Opening a pool on the PostgreSQL store: the URL checked, the schema migrated, a dead idle
 * connection reported instead of crashing jarvis. The run store and the agents' fleet store each
 * open one on the same database.
 */
import pg from "pg";
import { StoreError } from "../errors.js";
import { PostgresContext, describeUrl, passwordOf } from "./postgres-context.js";
import { migrate } from "./postgres-migrations.js";
import { pgTypes } from "./postgres-rows.js";

export interface PostgresPoolOptions {
  /** Connections in the pool. */
  poolSize: number;
  /** Where problems the pool works around go (a lost idle connection). */
  warn: (message: string) => void;
  /** Whose pool it is, in messages: "run store", "node store". */
  what: string;
}

export interface MigratedPool {
  context: PostgresContext;
  /** How to connect again, for connections outside the pool (LISTEN). */
  config: pg.ClientConfig;
}

/** Connect, apply pending migrations; E_STORE_OPEN (the URL without its password) if not. */
export async function openMigratedPool(url: string, options: PostgresPoolOptions): Promise<MigratedPool> {
  if (!URL.canParse(url)) {
    throw new StoreError(
      "E_STORE_OPEN",
      `store.url is not a URL (${describeUrl(url)}); fix store.url in jarvis.yml`,
    );
  }
  const config: pg.ClientConfig = { connectionString: url, types: pgTypes, application_name: "jarvis" };
  const pool = new pg.Pool({ ...config, max: options.poolSize });
  const context = new PostgresContext(pool, passwordOf(url), options.what);
  // An idle pooled connection that dies (server restart) must not crash jarvis; the next query reconnects.
  pool.on("error", (err) => options.warn(`${options.what}: ${context.scrub(err)}`));
  try {
    await migrate(pool);
  } catch (err) {
    await context.end();
    throw new StoreError(
      "E_STORE_OPEN",
      `cannot open the ${options.what} ${describeUrl(url)}: ${context.scrub(err)}; check store.url in jarvis.yml and that PostgreSQL accepts this user`,
      { cause: err },
    );
  }
  return { context, config };
}
