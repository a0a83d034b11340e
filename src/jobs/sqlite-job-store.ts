/** JobStore on the SQLite file of the runs. Every state change is one fenced UPDATE. */
import type Database from "better-sqlite3";
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

export const JOB_SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL,
  finished_at INTEGER,
  requester TEXT NOT NULL,
  operation TEXT NOT NULL,
  targets TEXT NOT NULL,
  options TEXT NOT NULL,
  state TEXT NOT NULL,
  rerun_of TEXT
);
CREATE TABLE IF NOT EXISTS job_nodes (
  job_id TEXT NOT NULL REFERENCES jobs (id),
  host TEXT NOT NULL,
  position INTEGER NOT NULL,
  request_id TEXT NOT NULL UNIQUE,
  state TEXT NOT NULL,
  sent_at INTEGER,
  stream_seq INTEGER,
  received_at INTEGER,
  finished_at INTEGER,
  exit_code INTEGER,
  stdout_tail TEXT NOT NULL DEFAULT '',
  stderr_tail TEXT NOT NULL DEFAULT '',
  message TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (job_id, host)
);
CREATE INDEX IF NOT EXISTS job_nodes_host ON job_nodes (host);
CREATE TABLE IF NOT EXISTS job_events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id TEXT NOT NULL,
  host TEXT,
  state TEXT NOT NULL,
  at INTEGER NOT NULL,
  exit_code INTEGER,
  message TEXT NOT NULL DEFAULT '',
  final INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS job_events_job ON job_events (job_id, seq);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created_at, id);
CREATE INDEX IF NOT EXISTS jobs_by_selector ON jobs (json_extract(targets, '$.where'), created_at, id);
`;

export class SqliteJobStore implements JobStore {
  /** Statements by their SQL: a fan-out makes thousands of the same few updates. */
  private readonly statements = new Map<string, Database.Statement>();
  private readonly createTx: (job: JobRecord, hosts: { host: string; requestId: string }[]) => void;
  private readonly event: Database.Statement;
  /** A change and its event commit together: a follower never sees one without the other. */
  private readonly withEvent: <T>(change: () => T) => T;

  constructor(private readonly db: Database.Database) {
    db.exec(JOB_SCHEMA);
    this.event = db.prepare(
      "INSERT INTO job_events (job_id, host, state, at, exit_code, message, final) VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    this.withEvent = <T>(change: () => T): T => db.transaction(change).immediate();
    this.createTx = db.transaction((job: JobRecord, hosts: { host: string; requestId: string }[]) => {
      db.prepare(`INSERT INTO jobs (${JOB_INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
        ...jobInsertValues(job),
      );
      const insert = db.prepare(
        "INSERT INTO job_nodes (job_id, host, position, request_id, state) VALUES (?, ?, ?, ?, 'queued')",
      );
      hosts.forEach((h, i) => insert.run(job.id, h.host, i, h.requestId));
      this.event.run(job.id, null, job.state, job.createdAt, null, "", 0);
      for (const h of hosts) this.event.run(job.id, h.host, "queued", job.createdAt, null, "", 0);
    }).immediate;
  }

  async createJob(job: JobRecord, hosts: { host: string; requestId: string }[]): Promise<void> {
    this.createTx(job, hosts);
  }

  async getJob(id: string): Promise<JobRecord | undefined> {
    const row = this.statement("SELECT * FROM jobs WHERE id = ?").get(id) as JobRow | undefined;
    return row && toJob(row);
  }

  async listJobs(query: JobQuery): Promise<JobRecord[]> {
    const args: Record<string, unknown> = {};
    const param = (value: unknown): string => {
      const name = `p${Object.keys(args).length}`;
      args[name] = value;
      return `@${name}`;
    };
    const sql = jobPageSql(query, {
      param,
      // One JSON argument however many hosts a selector matched: no limit on bound parameters.
      hostIn: (hosts) => `job_nodes.host IN (SELECT value FROM json_each(${param(JSON.stringify(hosts))}))`,
      selectorColumn: "json_extract(targets, '$.where')",
    });
    return (this.statement(sql).all(args) as JobRow[]).map(toJob);
  }

  async jobEvents(jobId: string, afterSeq: number, limit: number): Promise<JobEvent[]> {
    return (
      this.db
        .prepare("SELECT * FROM job_events WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?")
        .all(jobId, afterSeq, limit) as JobEventRow[]
    ).map(toJobEvent);
  }

  async deleteJob(id: string): Promise<boolean> {
    return this.withEvent(() => {
      const ended = this.db.prepare("SELECT 1 FROM jobs WHERE id = ? AND finished_at IS NOT NULL").get(id);
      if (ended === undefined) return false;
      // Its nodes first: they reference the job.
      this.db.prepare("DELETE FROM job_nodes WHERE job_id = ?").run(id);
      this.db.prepare("DELETE FROM job_events WHERE job_id = ?").run(id);
      this.db.prepare("DELETE FROM jobs WHERE id = ?").run(id);
      return true;
    });
  }

  async jobNodes(id: string): Promise<JobNodeRecord[]> {
    return (
      this.statement("SELECT * FROM job_nodes WHERE job_id = ? ORDER BY position").all(id) as JobNodeRow[]
    ).map(toJobNode);
  }

  async nodeByRequest(host: string, requestId: string): Promise<JobNodeRecord | undefined> {
    const row = this.db
      .prepare("SELECT * FROM job_nodes WHERE request_id = ? AND host = ?")
      .get(requestId, host) as JobNodeRow | undefined;
    return row && toJobNode(row);
  }

  async updateNode(
    jobId: string,
    host: string,
    from: readonly NodeJobState[],
    patch: JobNodePatch,
  ): Promise<boolean> {
    return this.withEvent(() => this.applyChange({ jobId, host, from, patch }));
  }

  async updateNodes(changes: readonly JobNodeChange[]): Promise<boolean[]> {
    if (changes.length === 0) return [];
    // One commit for a whole tick of replies: a commit per reply was most of jarvis's work in a fan-out.
    return this.withEvent(() => changes.map((c) => this.applyChange(c)));
  }

  /** The fenced UPDATE, and the node's event when its state moved; inside the caller's transaction. */
  private applyChange({ jobId, host, from, patch }: JobNodeChange): boolean {
    const sets = patchAssignments(patch);
    if (sets.length === 0 || from.length === 0) return false;
    const sql = `UPDATE job_nodes SET ${sets.map((a) => `${a.column} = ?`).join(", ")}
      WHERE job_id = ? AND host = ? AND state IN (${from.map(() => "?").join(", ")})`;
    if (this.statement(sql).run(...sets.map((a) => a.value), jobId, host, ...from).changes !== 1)
      return false;
    const event = nodeChangeEvent(patch);
    if (event !== undefined)
      this.event.run(jobId, host, event.state, event.at, event.exitCode, event.message, 0);
    return true;
  }

  async setJobState(
    id: string,
    from: readonly JobState[],
    to: JobState,
    at: number | null,
  ): Promise<boolean> {
    const sql = `UPDATE jobs SET state = ?, finished_at = ? WHERE id = ? AND state IN (${from.map(() => "?").join(", ")})`;
    return this.withEvent(() => {
      if (this.statement(sql).run(to, at, id, ...from).changes !== 1) return false;
      this.event.run(id, null, to, at ?? Date.now(), null, "", at === null ? 0 : 1);
      return true;
    });
  }

  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  async runningJobs(): Promise<JobRecord[]> {
    return (
      this.db
        .prepare("SELECT * FROM jobs WHERE state IN ('running', 'cancelled') AND finished_at IS NULL")
        .all() as JobRow[]
    ).map(toJob);
  }
}
