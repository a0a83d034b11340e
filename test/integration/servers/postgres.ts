/**
 * A real PostgreSQL 15 (Debian's, /usr/lib/postgresql/15/bin) for tests and benches: a cluster
 * made by initdb in a temp directory, listening on a free loopback port with its unix socket in
 * that directory, a password on TCP (scram) so tests see real authentication. initdb and postgres
 * refuse to run as root, so under root they run as the `postgres` system user (setpriv).
 */
import { chownSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { eventually, freePort } from "../../helpers/net.js";
import { startDaemon } from "../../helpers/daemon.js";

const BIN = "/usr/lib/postgresql/15/bin";
const USER = "jarvis";

/** A running PostgreSQL cluster. */
export interface PostgresServer {
  /** `postgres://jarvis:<password>@127.0.0.1:<port>/postgres` */
  url: string;
  port: number;
  password: string;
  /** A new empty database, and the URL that reaches it. */
  createDatabase(name?: string): Promise<string>;
  log(): string;
  stop(): Promise<void>;
}

/** The command prefix that runs a PostgreSQL binary as an unprivileged user when we are root. */
function asPostgresUser(): {
  wrap: (cmd: string, args: string[]) => [string, string[]];
  uid?: number;
  gid?: number;
} {
  if (userInfo().uid !== 0) return { wrap: (cmd, args) => [cmd, args] };
  const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
  const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
  return {
    uid,
    gid,
    wrap: (cmd, args) => [
      "/usr/bin/setpriv",
      [`--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", "--inh-caps=-all", cmd, ...args],
    ],
  };
}

let databases = 0;

/** The rows `sql` returns in the database at `url`, on a connection of its own (as another replica reads). */
export async function queryRows<R extends pg.QueryResultRow>(
  url: string,
  sql: string,
  args: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(sql, args)).rows;
  } finally {
    await client.end();
  }
}

/** initdb a fresh cluster, start postgres and wait until it answers a query. */
export async function startPostgres(): Promise<PostgresServer> {
  const dir = mkdtempSync(join(tmpdir(), "jarvis-pg-"));
  const user = asPostgresUser();
  if (user.uid !== undefined && user.gid !== undefined) chownSync(dir, user.uid, user.gid);
  const password = randomBytes(12).toString("hex");
  const pwfile = join(dir, "pw");
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (user.uid !== undefined && user.gid !== undefined) chownSync(pwfile, user.uid, user.gid);
  const data = join(dir, "data");
  const [initdb, initArgs] = user.wrap(`${BIN}/initdb`, [
    ...["-D", data, "-U", USER, `--pwfile=${pwfile}`, "-E", "UTF8", "--locale=C"],
    ...["--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync", "--no-instructions"],
  ]);
  try {
    execFileSync(initdb, initArgs, { stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${String((err as { stderr?: Buffer }).stderr ?? err)}`);
  }
  const port = await freePort();
  const url = `postgres://${USER}:${password}@127.0.0.1:${port}/postgres`;
  // fsync off: a test cluster is thrown away, and the shared machine's disk is slow.
  const [postgres, args] = user.wrap(`${BIN}/postgres`, [
    ...["-D", data, "-p", String(port), "-k", dir, "-c", "listen_addresses=127.0.0.1"],
    ...["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
    ...["-c", "max_connections=300"],
  ]);
  const query = async (sql: string, target = url): Promise<void> => {
    await queryRows(target, sql);
  };
  const daemon = await startDaemon(
    "postgres",
    postgres,
    args,
    () => eventually(async () => (await query("SELECT 1"), true), 60_000, "postgres answering"),
    65_000,
  );
  // A vitest worker that dies must not leave a postmaster behind.
  const killOnExit = (): void => void daemon.child.kill("SIGKILL");
  process.once("exit", killOnExit);
  return {
    url,
    port,
    password,
    async createDatabase(name = `jarvis_${process.pid}_${++databases}`) {
      await query(`CREATE DATABASE ${name}`);
      return url.replace(/\/postgres$/, `/${name}`);
    },
    log: () => daemon.log(),
    async stop() {
      process.removeListener("exit", killOnExit);
      // SIGINT is PostgreSQL's fast shutdown: SIGTERM would wait for every client to leave.
      if (daemon.child.exitCode === null && daemon.child.signalCode === null) daemon.child.kill("SIGINT");
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
