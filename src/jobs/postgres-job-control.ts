/**
 * The job-driving lease in PostgreSQL: one row, taken or extended by one statement that only
 * writes when the row is free, expired, or already the caller's, all on the database's clock.
 * Two replicas asking at once are ordered by the row lock; the second sees the first's lease.
 */
import { NOW } from "../store/postgres-context.js";
import type { PostgresContext } from "../store/postgres-context.js";
import type { JobControl } from "./job-control.js";

/** Migration: the lease row. */
export const POSTGRES_JOB_CONTROL_SCHEMA = `
CREATE TABLE job_control (
  id INTEGER PRIMARY KEY CHECK (id = 1), owner TEXT NOT NULL, expires_at BIGINT NOT NULL
);`;

export class PostgresJobControl implements JobControl {
  readonly sole = false;

  constructor(private readonly c: PostgresContext) {}

  async hold(owner: string, leaseMs: number): Promise<boolean> {
    const rows = await this.c.rows(
      "hold the job-driving lease",
      `INSERT INTO job_control (id, owner, expires_at) VALUES (1, $1, ${NOW} + $2)
       ON CONFLICT (id) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
       WHERE job_control.owner = EXCLUDED.owner OR job_control.expires_at < ${NOW}
       RETURNING owner`,
      [owner, leaseMs],
    );
    return rows.length === 1;
  }

  async release(owner: string): Promise<void> {
    await this.c.rows("hand the job-driving lease back", "DELETE FROM job_control WHERE owner = $1", [owner]);
  }

  async holder(): Promise<string | undefined> {
    const [row] = await this.c.rows<{ owner: string }>(
      "read the job-driving lease",
      `SELECT owner FROM job_control WHERE expires_at >= ${NOW}`,
    );
    return row?.owner;
  }
}
