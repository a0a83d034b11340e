/**
 * The default RunStore: one SQLite file (better-sqlite3), WAL mode so a foreground `jarvis run`
 * and the `jarvis start` service can share it. Calls are synchronous underneath and cheap, so the
 * async interface costs a microtask, not a thread hop. Every check-then-write is one statement or
 * one transaction, and every lease time is computed in SQL, so the only clock is SQLite's.
 */
import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { SCHEMA, encode, migrate } from "./sqlite-rows.js";
import { STEP_COLUMNS, toRun, toStep } from "./run-rows.js";
import { SqliteFeed } from "./sqlite-feed.js";
import { SqliteRunLifecycle } from "./sqlite-run-lifecycle.js";
import { SqliteApprovals } from "./sqlite-approvals.js";
import { SqliteRunPages } from "./sqlite-run-pages.js";
import { NOW } from "./sqlite-context.js";
import { SqliteHosts, migrateHostIndex } from "./sqlite-hosts.js";
import { SqliteSchedules, migrateSchedules } from "./sqlite-schedules.js";
import { SqliteNodeEvents, migrateNodeEvents } from "./sqlite-node-events.js";
import type { SqliteContext } from "./sqlite-context.js";
import { RunError, StoreError } from "../errors.js";
import type { RunRow, StepRow } from "./run-rows.js";
import type { RunEventBody } from "../protocol.js";
import type {
  AuditEntry,
  FeedQuery,
  FollowOptions,
  Lease,
  LogLine,
  RunQuery,
  RunRecord,
  RunStore,
  StepEventBody,
  StepRecord,
  StepWrite,
} from "./run-store.js";

/** Open (creating if needed) the SQLite run store at `path` (":memory:" for tests). */
export function openSqliteStore(path: string): RunStore {
  let db: Database.Database;
  try {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    db = new Database(path);
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    // Every transaction that writes begins IMMEDIATE (`.immediate`), taking the write lock first: a
    // deferred one that reads before it writes fails at once with SQLITE_BUSY when another process
    // (a second `jarvis run`) wrote meanwhile, because SQLite never waits on a stale read snapshot.
    db.pragma("busy_timeout = 10000");
    db.exec(SCHEMA);
    migrate(db);
    migrateHostIndex(db);
    migrateSchedules(db);
    migrateNodeEvents(db);
  } catch (err) {
    throw new StoreError(
      "E_STORE_OPEN",
      `cannot open the run store ${path}: ${(err as Error).message}; check store.path in jarvis.yml`,
      { cause: err },
    );
  }
  return new SqliteStore(db);
}

class SqliteStore implements RunStore {
  private readonly statements = new Map<string, Database.Statement>();
  private readonly feed: SqliteFeed;
  private readonly lifecycle: SqliteRunLifecycle;
  private readonly approvals: SqliteApprovals;
  private readonly pages: SqliteRunPages;
  private readonly hosts: SqliteHosts;
  private readonly schedules: SqliteSchedules;
  private readonly nodeEvents: SqliteNodeEvents;
  /** Made once: building a better-sqlite3 transaction costs more than the writes of a step. */
  private readonly writeStepTx: (lease: Lease, index: number, write: StepWrite) => boolean;

  constructor(private readonly db: Database.Database) {
    const context: SqliteContext = {
      db,
      stmt: (sql) => this.stmt(sql),
      guard: (what, fn) => this.guard(what, fn),
    };
    this.feed = new SqliteFeed(context);
    this.lifecycle = new SqliteRunLifecycle(context, this.feed);
    this.approvals = new SqliteApprovals(context, this.feed, this.lifecycle);
    this.pages = new SqliteRunPages(context);
    this.hosts = new SqliteHosts(context);
    this.schedules = new SqliteSchedules(context);
    this.nodeEvents = new SqliteNodeEvents(context);
    this.writeStepTx = db.transaction((lease: Lease, index: number, write: StepWrite) =>
      this.writeStepInTx(lease, index, write),
    ).immediate;
  }

  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  async now(): Promise<number> {
    return (this.stmt(`SELECT ${NOW} AS now`).get() as { now: number }).now;
  }

  createRun: RunStore["createRun"] = (run) => this.lifecycle.createRun(run);

  async getRun(id: string): Promise<RunRecord | undefined> {
    const row = this.stmt(`SELECT * FROM runs WHERE id = ?`).get(id) as RunRow | undefined;
    return row ? toRun(row) : undefined;
  }

  async listRuns(query: RunQuery): Promise<RunRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (query.host !== undefined) {
      where.push("host = ?");
      args.push(query.host);
    }
    if (query.group !== undefined) {
      where.push("group_id = ?");
      args.push(query.group);
    }
    if (query.states?.length) {
      where.push(`state IN (${query.states.map(() => "?").join(", ")})`);
      args.push(...query.states);
    }
    const sql = `SELECT * FROM runs ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY created_at DESC, rowid DESC LIMIT ?`;
    return (this.stmt(sql).all(...args, query.limit ?? 1000) as RunRow[]).map(toRun);
  }

  pageRuns: RunStore["pageRuns"] = async (query) => this.pages.pageRuns(query);
  countRunsByState: RunStore["countRunsByState"] = async () => this.pages.countRunsByState();
  deleteFinishedRun: RunStore["deleteFinishedRun"] = async (runId) => this.pages.deleteFinishedRun(runId);
  queryAudit: RunStore["queryAudit"] = async (query) => this.pages.queryAudit(query);
  listHosts: RunStore["listHosts"] = async (query) => this.hosts.listHosts(query);
  hostHistory: RunStore["hostHistory"] = async (host, query) => this.hosts.hostHistory(host, query);

  createSchedule: RunStore["createSchedule"] = async (schedule) => this.schedules.create(schedule);
  getSchedule: RunStore["getSchedule"] = async (id) => this.schedules.get(id);
  listSchedules: RunStore["listSchedules"] = async () => this.schedules.list();
  deleteSchedule: RunStore["deleteSchedule"] = async (id) => this.schedules.delete(id);
  dueSchedules: RunStore["dueSchedules"] = async () => this.schedules.due();
  claimOccurrence: RunStore["claimOccurrence"] = async (claim) => this.schedules.claim(claim);
  recordOccurrenceResult: RunStore["recordOccurrenceResult"] = async (id, at, result) =>
    this.schedules.recordResult(id, at, result);
  listOccurrences: RunStore["listOccurrences"] = async (id, limit) => this.schedules.occurrences(id, limit);

  recordNodeEvent: RunStore["recordNodeEvent"] = async (event) => this.nodeEvents.record(event);
  listNodeEvents: RunStore["listNodeEvents"] = async (query) => this.nodeEvents.list(query);
  latestNodeEventSeq: RunStore["latestNodeEventSeq"] = async () => this.nodeEvents.latestSeq();
  nodeEventsAfter: RunStore["nodeEventsAfter"] = async (afterSeq, query) =>
    this.nodeEvents.after(afterSeq, query);
  followNodeEvents: RunStore["followNodeEvents"] = (afterSeq, follow) =>
    this.nodeEvents.follow(afterSeq, follow);
  claimRuleFiring: RunStore["claimRuleFiring"] = async (claim) => this.nodeEvents.claim(claim);
  recordRuleFiringResult: RunStore["recordRuleFiringResult"] = async (claim, result) =>
    this.nodeEvents.recordResult(claim, result);
  getRuleFiring: RunStore["getRuleFiring"] = async (rule, host) => this.nodeEvents.get(rule, host);
  holdRuleEvent: RunStore["holdRuleEvent"] = async (claim) => this.nodeEvents.hold(claim);
  claimHeldFiring: RunStore["claimHeldFiring"] = async (key) => this.nodeEvents.claimHeld(key);
  heldRuleEvents: RunStore["heldRuleEvents"] = async () => this.nodeEvents.held();

  claimableRuns: RunStore["claimableRuns"] = () => this.lifecycle.claimableRuns();
  claim: RunStore["claim"] = (runId, owner, leaseMs) => this.lifecycle.claim(runId, owner, leaseMs);
  renew: RunStore["renew"] = (owner, runIds, leaseMs) => this.lifecycle.renew(owner, runIds, leaseMs);
  release: RunStore["release"] = (lease) => this.lifecycle.release(lease);
  markStarted: RunStore["markStarted"] = (lease) => this.lifecycle.markStarted(lease);
  finishIfOwner: RunStore["finishIfOwner"] = (lease, ending) => this.lifecycle.finishIfOwner(lease, ending);
  finishPlanForApproval: RunStore["finishPlanForApproval"] = (lease) =>
    this.lifecycle.finishPlanForApproval(lease);
  cancelIfQueued: RunStore["cancelIfQueued"] = (runId, error) => this.lifecycle.cancelIfQueued(runId, error);
  requestCancel: RunStore["requestCancel"] = (runId) => this.lifecycle.requestCancel(runId);
  retryRun: RunStore["retryRun"] = (request) => this.lifecycle.retryRun(request);

  decideApproval: RunStore["decideApproval"] = (decision) => this.approvals.decideApproval(decision);
  listApprovals: RunStore["listApprovals"] = (runId) => this.approvals.listApprovals(runId);
  expireApprovals: RunStore["expireApprovals"] = () => this.approvals.expireApprovals();

  async listSteps(runId: string): Promise<StepRecord[]> {
    return (this.stmt(`SELECT * FROM steps WHERE run_id = ? ORDER BY idx`).all(runId) as StepRow[]).map(
      toStep,
    );
  }

  async writeStep(lease: Lease, index: number, write: StepWrite): Promise<boolean> {
    return this.guard("record a step", () => this.writeStepTx(lease, index, write));
  }

  private writeStepInTx(lease: Lease, index: number, write: StepWrite): boolean {
    if (!this.holds(lease)) return false;
    const sets: string[] = [];
    const args: unknown[] = [];
    for (const [key, value] of Object.entries(write.patch)) {
      sets.push(`${STEP_COLUMNS[key as keyof typeof STEP_COLUMNS]} = ?`);
      args.push(encode(key, value));
    }
    if (sets.length > 0) {
      this.stmt(`UPDATE steps SET ${sets.join(", ")} WHERE run_id = ? AND idx = ?`).run(
        ...args,
        lease.runId,
        index,
      );
    }
    if (write.moveRun) {
      this.stmt(
        `UPDATE runs SET step_index = ?, step_name = (SELECT name FROM steps WHERE run_id = runs.id AND idx = ?)
         WHERE id = ?`,
      ).run(index, index, lease.runId);
    }
    if (write.output !== undefined) {
      this.stmt(`INSERT OR REPLACE INTO snapshots (run_id, idx, phase, yaml) VALUES (?, ?, 'output', ?)`).run(
        lease.runId,
        index,
        write.output,
      );
    }
    if (write.event) this.feed.appendFenced(lease, write.event);
    return true;
  }

  async getSnapshot(runId: string, index: number, phase: "input" | "output"): Promise<string | undefined> {
    // A step's input is the newest clipboard before it: an operator's edit at this index, else the
    // output of the nearest earlier step that wrote one (skipped steps write none).
    const sql =
      phase === "input"
        ? `SELECT yaml FROM snapshots WHERE run_id = ? AND ((idx = ? AND phase = 'input') OR (idx < ?))
             ORDER BY idx DESC, phase = 'output' DESC LIMIT 1`
        : `SELECT yaml FROM snapshots WHERE run_id = ? AND ((idx = ?) OR (idx < ?))
             ORDER BY idx DESC, phase = 'output' DESC LIMIT 1`;
    const row = this.stmt(sql).get(runId, index, index) as { yaml: string } | undefined;
    return row?.yaml;
  }

  async appendLog(
    lease: Lease,
    line: Omit<Extract<RunEventBody, { type: "step-log" }>, "type">,
  ): Promise<boolean> {
    return this.appendEvent(lease, { type: "step-log", ...line });
  }

  async appendEvent(lease: Lease, event: StepEventBody): Promise<boolean> {
    return this.guard("append to the run's feed", () => this.feed.appendFenced(lease, event));
  }

  async readLog(runId: string): Promise<LogLine[]> {
    return this.feed.readLog(runId);
  }

  async latestSeq(): Promise<number> {
    return this.feed.latestSeq();
  }

  async readEvents(afterSeq: number, query: FeedQuery = {}) {
    return this.feed.read(afterSeq, query);
  }

  follow(afterSeq: number, options: FollowOptions) {
    return this.feed.follow(afterSeq, options);
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    this.guard("write the audit log", () =>
      this.stmt(
        `INSERT INTO audit (at, identity, network, room, command, decision, reason, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        entry.at,
        entry.identity,
        entry.network,
        entry.room,
        entry.command,
        entry.decision,
        entry.reason,
        entry.runId,
      ),
    );
  }

  async listAudit(limit: number): Promise<AuditEntry[]> {
    const rows = this.stmt(`SELECT * FROM audit ORDER BY id DESC LIMIT ?`).all(limit) as (AuditEntry & {
      run_id: string | null;
    })[];
    return rows.map((r) => ({
      at: r.at,
      identity: r.identity,
      network: r.network,
      room: r.room,
      command: r.command,
      decision: r.decision,
      reason: r.reason,
      runId: r.run_id,
    }));
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  private holds(lease: Lease): boolean {
    return (
      this.stmt(`SELECT 1 FROM runs WHERE id = ? AND lease_owner = ? AND state = 'running'`).get(
        lease.runId,
        lease.owner,
      ) !== undefined
    );
  }

  private guard<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof RunError || err instanceof StoreError) throw err;
      throw new StoreError("E_STORE_IO", `run store failed to ${what}: ${(err as Error).message}`, {
        cause: err,
        retryable: true,
      });
    }
  }
}
