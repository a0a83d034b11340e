/** JobStore on the SQLite file of the runs. Every state change is one fenced UPDATE. */
import type Database from "better-sqlite3";
import type { JobNodeRecord, JobRecord, JobState, NodeJobState } from "./job.js";
import type { JobNodePatch, JobStore } from "./job-store.js";

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
`;

const COLUMNS: Record<keyof JobNodePatch, string> = {
  state: "state",
  sentAt: "sent_at",
  streamSeq: "stream_seq",
  receivedAt: "received_at",
  finishedAt: "finished_at",
  exitCode: "exit_code",
  stdoutTail: "stdout_tail",
  stderrTail: "stderr_tail",
  message: "message",
};

interface JobRow {
  id: string;
  created_at: number;
  finished_at: number | null;
  requester: string;
  operation: string;
  targets: string;
  options: string;
  state: JobState;
  rerun_of: string | null;
}

interface NodeRow {
  job_id: string;
  host: string;
  position: number;
  request_id: string;
  state: NodeJobState;
  sent_at: number | null;
  stream_seq: number | null;
  received_at: number | null;
  finished_at: number | null;
  exit_code: number | null;
  stdout_tail: string;
  stderr_tail: string;
  message: string;
}

export class SqliteJobStore implements JobStore {
  /** Statements by their SQL: a fan-out makes thousands of the same few updates. */
  private readonly statements = new Map<string, Database.Statement>();
  private readonly createTx: (job: JobRecord, hosts: { host: string; requestId: string }[]) => void;

  constructor(private readonly db: Database.Database) {
    db.exec(JOB_SCHEMA);
    this.createTx = db.transaction((job: JobRecord, hosts: { host: string; requestId: string }[]) => {
      db.prepare(
        "INSERT INTO jobs (id, created_at, finished_at, requester, operation, targets, options, state, rerun_of) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      ).run(
        job.id,
        job.createdAt,
        job.finishedAt,
        job.requester,
        JSON.stringify(job.operation),
        JSON.stringify(job.targets),
        JSON.stringify(job.options),
        job.state,
        job.rerunOf,
      );
      const insert = db.prepare(
        "INSERT INTO job_nodes (job_id, host, position, request_id, state) VALUES (?, ?, ?, ?, 'queued')",
      );
      hosts.forEach((h, i) => insert.run(job.id, h.host, i, h.requestId));
    });
  }

  async createJob(job: JobRecord, hosts: { host: string; requestId: string }[]): Promise<void> {
    this.createTx(job, hosts);
  }

  async getJob(id: string): Promise<JobRecord | undefined> {
    const row = this.statement("SELECT * FROM jobs WHERE id = ?").get(id) as JobRow | undefined;
    return row && toJob(row);
  }

  async listJobs(limit: number, host?: string): Promise<JobRecord[]> {
    const rows = (
      host === undefined
        ? this.db.prepare("SELECT * FROM jobs ORDER BY created_at DESC, rowid DESC LIMIT ?").all(limit)
        : this.db
            .prepare(
              "SELECT jobs.* FROM jobs JOIN job_nodes ON job_nodes.job_id = jobs.id WHERE job_nodes.host = ? ORDER BY created_at DESC, jobs.rowid DESC LIMIT ?",
            )
            .all(host, limit)
    ) as JobRow[];
    return rows.map(toJob);
  }

  async jobNodes(id: string): Promise<JobNodeRecord[]> {
    return (
      this.statement("SELECT * FROM job_nodes WHERE job_id = ? ORDER BY position").all(id) as NodeRow[]
    ).map(toNode);
  }

  async nodeByRequest(host: string, requestId: string): Promise<JobNodeRecord | undefined> {
    const row = this.db
      .prepare("SELECT * FROM job_nodes WHERE request_id = ? AND host = ?")
      .get(requestId, host) as NodeRow | undefined;
    return row && toNode(row);
  }

  async updateNode(
    jobId: string,
    host: string,
    from: readonly NodeJobState[],
    patch: JobNodePatch,
  ): Promise<boolean> {
    const keys = (Object.keys(patch) as (keyof JobNodePatch)[]).filter((k) => patch[k] !== undefined);
    if (keys.length === 0 || from.length === 0) return false;
    const sql = `UPDATE job_nodes SET ${keys.map((k) => `${COLUMNS[k]} = ?`).join(", ")}
      WHERE job_id = ? AND host = ? AND state IN (${from.map(() => "?").join(", ")})`;
    return this.statement(sql).run(...keys.map((k) => patch[k]), jobId, host, ...from).changes === 1;
  }

  async setJobState(
    id: string,
    from: readonly JobState[],
    to: JobState,
    at: number | null,
  ): Promise<boolean> {
    const sql = `UPDATE jobs SET state = ?, finished_at = ? WHERE id = ? AND state IN (${from.map(() => "?").join(", ")})`;
    return this.statement(sql).run(to, at, id, ...from).changes === 1;
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

function toJob(r: JobRow): JobRecord {
  return {
    id: r.id,
    createdAt: r.created_at,
    finishedAt: r.finished_at,
    requester: r.requester,
    operation: JSON.parse(r.operation) as JobRecord["operation"],
    targets: JSON.parse(r.targets) as JobRecord["targets"],
    options: JSON.parse(r.options) as JobRecord["options"],
    state: r.state,
    rerunOf: r.rerun_of,
  };
}

function toNode(r: NodeRow): JobNodeRecord {
  return {
    jobId: r.job_id,
    host: r.host,
    position: r.position,
    requestId: r.request_id,
    state: r.state,
    sentAt: r.sent_at,
    streamSeq: r.stream_seq,
    receivedAt: r.received_at,
    finishedAt: r.finished_at,
    exitCode: r.exit_code,
    stdoutTail: r.stdout_tail,
    stderrTail: r.stderr_tail,
    message: r.message,
  };
}
