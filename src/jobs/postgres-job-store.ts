/**
 * JobStore in PostgreSQL, shared by every jarvis replica on the database. Each conditional change
 * is one statement: the node's or job's row is updated only while it is in one of the expected
 * states, and its event is numbered and written by the same statement. A job's events are
 * numbered by a counter on the job's row (not a SEQUENCE, which hands numbers out in call order,
 * not commit order): the row lock orders a job's changes, so a follower reading "after N" never
 * passes an N-1 committed late.
 */
import type { PostgresContext } from "../store/postgres-context.js";
import type { JobNodeRecord, JobRecord, JobState, NodeJobState } from "./job.js";
import type { JobEvent, JobNodeChange, JobNodePatch, JobQuery, JobStore } from "./job-store.js";
import {
  JOB_INSERT_COLUMNS,
  jobInsertValues,
  jobPageSql,
  nodeChangeEvent,
  patchAssignments,
  toJob,
  toJobEvent,
  toJobNode,
} from "./job-rows.js";
import type { JobEventRow, JobNodeRow, JobRow } from "./job-rows.js";

/** Migration: jobs, their nodes and their events. */
export const POSTGRES_JOBS_SCHEMA = `
CREATE TABLE jobs (
  id TEXT PRIMARY KEY, created_at BIGINT NOT NULL, finished_at BIGINT, requester TEXT NOT NULL,
  operation TEXT NOT NULL, targets TEXT NOT NULL, options TEXT NOT NULL, state TEXT NOT NULL,
  rerun_of TEXT, last_event_seq BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX jobs_created ON jobs (created_at, id);
CREATE INDEX jobs_by_selector ON jobs (((targets::jsonb) ->> 'where'), created_at, id);
CREATE INDEX jobs_unfinished ON jobs (state) WHERE finished_at IS NULL;
-- Deferred: \`jarvis store migrate\` copies tables in name order, job_nodes before jobs.
CREATE TABLE job_nodes (
  job_id TEXT NOT NULL REFERENCES jobs (id) DEFERRABLE INITIALLY DEFERRED, host TEXT NOT NULL,
  position INTEGER NOT NULL, request_id TEXT NOT NULL UNIQUE, state TEXT NOT NULL,
  sent_at BIGINT, stream_seq BIGINT, received_at BIGINT, finished_at BIGINT, exit_code INTEGER,
  stdout_tail TEXT NOT NULL DEFAULT '', stderr_tail TEXT NOT NULL DEFAULT '',
  message TEXT NOT NULL DEFAULT '', PRIMARY KEY (job_id, host)
);
CREATE INDEX job_nodes_host ON job_nodes (host);
CREATE TABLE job_events (
  job_id TEXT NOT NULL, seq BIGINT NOT NULL, host TEXT, state TEXT NOT NULL, at BIGINT NOT NULL,
  exit_code INTEGER, message TEXT NOT NULL DEFAULT '', final BOOLEAN NOT NULL DEFAULT false,
  PRIMARY KEY (job_id, seq)
);`;

const EVENT_COLUMNS = "job_id, seq, host, state, at, exit_code, message, final";

export class PostgresJobStore implements JobStore {
  constructor(private readonly c: PostgresContext) {}

  async createJob(job: JobRecord, hosts: { host: string; requestId: string }[]): Promise<void> {
    const names = hosts.map((h) => h.host);
    await this.c.tx("record a new job", async (client) => {
      // The job's event, then one `queued` per node: numbered 1..n+1.
      await client.query(
        `INSERT INTO jobs (${JOB_INSERT_COLUMNS}, last_event_seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [...jobInsertValues(job), hosts.length + 1],
      );
      await client.query(
        `INSERT INTO job_nodes (job_id, host, position, request_id, state)
         SELECT $1, host, ord - 1, request_id, 'queued'
         FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS n (host, request_id, ord)`,
        [job.id, names, hosts.map((h) => h.requestId)],
      );
      await client.query(
        `INSERT INTO job_events (${EVENT_COLUMNS})
         SELECT $1, 1, NULL::text, $2::text, $3::bigint, NULL::integer, '', false
         UNION ALL
         SELECT $1, ord + 1, host, 'queued', $3::bigint, NULL, '', false
         FROM unnest($4::text[]) WITH ORDINALITY AS n (host, ord)`,
        [job.id, job.state, job.createdAt, names],
      );
    });
  }

  async getJob(id: string): Promise<JobRecord | undefined> {
    const [row] = await this.c.rows<JobRow>("read a job", "SELECT * FROM jobs WHERE id = $1", [id]);
    return row && toJob(row);
  }

  async listJobs(query: JobQuery): Promise<JobRecord[]> {
    const args: unknown[] = [];
    const param = (value: unknown): string => `$${args.push(value)}`;
    const sql = jobPageSql(query, {
      param,
      hostIn: (hosts) => `job_nodes.host = ANY(${param(hosts)}::text[])`,
      selectorColumn: "((targets::jsonb) ->> 'where')",
    });
    return (await this.c.rows<JobRow>("list jobs", sql, args)).map(toJob);
  }

  async jobEvents(jobId: string, afterSeq: number, limit: number): Promise<JobEvent[]> {
    const rows = await this.c.rows<JobEventRow>(
      "read a job's events",
      "SELECT * FROM job_events WHERE job_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
      [jobId, afterSeq, limit],
    );
    return rows.map(toJobEvent);
  }

  async deleteJob(id: string): Promise<boolean> {
    return this.c.tx("delete a job", async (client) => {
      const deleted = await client.query(
        "DELETE FROM jobs WHERE id = $1 AND finished_at IS NOT NULL RETURNING id",
        [id],
      );
      if (deleted.rowCount === 0) return false;
      await client.query("DELETE FROM job_nodes WHERE job_id = $1", [id]);
      await client.query("DELETE FROM job_events WHERE job_id = $1", [id]);
      return true;
    });
  }

  async jobNodes(id: string): Promise<JobNodeRecord[]> {
    const rows = await this.c.rows<JobNodeRow>(
      "read a job's nodes",
      "SELECT * FROM job_nodes WHERE job_id = $1 ORDER BY position",
      [id],
    );
    return rows.map(toJobNode);
  }

  async nodeByRequest(host: string, requestId: string): Promise<JobNodeRecord | undefined> {
    const [row] = await this.c.rows<JobNodeRow>(
      "find a job's node by its request",
      "SELECT * FROM job_nodes WHERE request_id = $1 AND host = $2",
      [requestId, host],
    );
    return row && toJobNode(row);
  }

  async updateNode(
    jobId: string,
    host: string,
    from: readonly NodeJobState[],
    patch: JobNodePatch,
  ): Promise<boolean> {
    const statement = nodeChangeStatement({ jobId, host, from, patch });
    if (!statement) return false;
    return (await this.c.rows("update a job's node", statement.sql, statement.args)).length === 1;
  }

  async updateNodes(changes: readonly JobNodeChange[]): Promise<boolean[]> {
    if (changes.length === 0) return [];
    // One commit for a tick of replies; each change sees what the one before it left.
    return this.c.tx("update a job's nodes", async (client) => {
      const applied: boolean[] = [];
      for (const change of changes) {
        const statement = nodeChangeStatement(change);
        applied.push(statement ? (await client.query(statement.sql, statement.args)).rowCount === 1 : false);
      }
      return applied;
    });
  }

  async setJobState(
    id: string,
    from: readonly JobState[],
    to: JobState,
    at: number | null,
  ): Promise<boolean> {
    const rows = await this.c.rows(
      "change a job's state",
      `WITH changed AS (
         UPDATE jobs SET state = $2, finished_at = $3, last_event_seq = last_event_seq + 1
         WHERE id = $1 AND state = ANY($4::text[]) RETURNING last_event_seq
       )
       INSERT INTO job_events (${EVENT_COLUMNS})
       SELECT $1, last_event_seq, NULL, $2, $5::bigint, NULL, '', $6::boolean FROM changed
       RETURNING seq`,
      [id, to, at, from, at ?? Date.now(), at !== null],
    );
    return rows.length === 1;
  }

  async runningJobs(): Promise<JobRecord[]> {
    const rows = await this.c.rows<JobRow>(
      "list running jobs",
      "SELECT * FROM jobs WHERE state IN ('running', 'cancelled') AND finished_at IS NULL",
    );
    return rows.map(toJob);
  }
}

/**
 * The fenced UPDATE of one job node, with its numbered event in the same statement when its state
 * moves; undefined when there is nothing to change.
 */
function nodeChangeStatement({
  jobId,
  host,
  from,
  patch,
}: JobNodeChange): { sql: string; args: unknown[] } | undefined {
  const sets = patchAssignments(patch);
  if (sets.length === 0 || from.length === 0) return undefined;
  const args: unknown[] = [jobId, host, from];
  const assignments = sets.map((a) => `${a.column} = $${args.push(a.value)}`).join(", ");
  const event = nodeChangeEvent(patch);
  if (event === undefined) {
    return {
      sql: `UPDATE job_nodes SET ${assignments} WHERE job_id = $1 AND host = $2 AND state = ANY($3::text[])
         RETURNING 1`,
      args,
    };
  }
  const at = `$${args.push(event.at)}::bigint`;
  const exitCode = `$${args.push(event.exitCode)}::integer`;
  const message = `$${args.push(event.message)}::text`;
  // The job's row is locked first (the scalar subquery runs before the node is scanned), as
  // setJobState and deleteJob lock it, so no two changes of one job wait on each other in turn.
  return {
    sql: `WITH job AS (SELECT id FROM jobs WHERE id = $1 FOR UPDATE),
       changed AS (
         UPDATE job_nodes SET ${assignments}
         WHERE job_id = (SELECT id FROM job) AND host = $2 AND state = ANY($3::text[]) RETURNING state
       ),
       numbered AS (
         UPDATE jobs SET last_event_seq = last_event_seq + 1
         WHERE id = $1 AND EXISTS (SELECT 1 FROM changed) RETURNING last_event_seq
       )
       INSERT INTO job_events (${EVENT_COLUMNS})
       SELECT $1, last_event_seq, $2, changed.state, ${at}, ${exitCode}, ${message}, false
       FROM numbered, changed
       RETURNING seq`,
    args,
  };
}
