/** `jarvis store migrate`: move a SQLite store's data into PostgreSQL when jarvis grows to several machines. */
import { resolve } from "node:path";
import { copySqliteToPostgres } from "../store/store-copy.js";
import { EXIT } from "./exit-codes.js";
import { defineCommand, usageError } from "./command.js";

const SQLITE_PREFIX = "sqlite:";

export const storeCommand = defineCommand({
  usage: "store migrate --from sqlite:PATH --to postgres://... [--replace]",
  summary: "copy a SQLite store (runs, snapshots, logs, audit) into PostgreSQL, checked by counts",
  options: {
    from: { type: "string" },
    to: { type: "string" },
    replace: { type: "boolean", default: false },
  },
  run: async (ctx) => {
    const [action] = ctx.args;
    if (action !== "migrate" || ctx.args.length > 1) throw usageError("store takes one action: migrate");
    const { from, to, replace } = ctx.flags;
    if (from === undefined || !from.startsWith(SQLITE_PREFIX) || from.length === SQLITE_PREFIX.length) {
      throw usageError("--from must name a SQLite store: --from sqlite:PATH");
    }
    // Never echo --to: it may carry the password.
    if (to === undefined || !/^postgres(ql)?:\/\/./.test(to)) {
      throw usageError("--to must be a PostgreSQL URL: --to postgres://user@host/db");
    }
    const sqlitePath = resolve(from.slice(SQLITE_PREFIX.length));
    const report = await copySqliteToPostgres({ sqlitePath, postgresUrl: to, replace: replace ?? false });
    for (const { table, rows } of report) ctx.out(`${table}: ${rows} rows`);
    ctx.out(`jarvis: copied ${sqlitePath} into PostgreSQL; counts match on both sides`);
    return EXIT.ok;
  },
});
