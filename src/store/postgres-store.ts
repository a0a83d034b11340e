/**
 * The RunStore for several machines sharing the work: PostgreSQL through a `pg` pool. Its schema
 * is migrated at open; every lease time is computed in SQL from the database's clock; every
 * check-then-write is one statement or one transaction holding the run's row lock; followers of
 * the feed are woken by LISTEN/NOTIFY (postgres-notifier.ts).
 */
import pg from "pg";
import { NOW } from "./postgres-context.js";
import type { PostgresContext } from "./postgres-context.js";
import { openMigratedPool } from "./postgres-pool.js";
import { PostgresFeed } from "./postgres-feed.js";
import { FeedNotifier, NODE_EVENTS_CHANNEL } from "./postgres-notifier.js";
import { PostgresRunLifecycle } from "./postgres-run-lifecycle.js";
import { PostgresApprovals } from "./postgres-approvals.js";
import { PostgresHosts } from "./postgres-host-index.js";
import { PostgresRunPages } from "./postgres-run-pages.js";
import { PostgresSchedules } from "./postgres-schedules.js";
import { PostgresNodeEvents } from "./postgres-node-events.js";
import { LogBatcher } from "./postgres-log-batch.js";
import { RUN_COLUMNS, STEP_ROW_COLUMNS } from "./postgres-rows.js";
import { toRun, toStep } from "./run-rows.js";
import { stepWriteStatement } from "./postgres-step-write.js";
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

/** Options for opening the PostgreSQL store. */
export interface PostgresStoreOptions {
  /** Connections in the pool (a run's bookkeeping takes one for a few statements at a time). */
  poolSize?: number;
  /** Where problems the store works around go (a lost LISTEN connection); stderr by default. */
  warn?: (message: string) => void;
}

/** Connect, apply pending migrations, and return the store; E_STORE_OPEN (URL without password) if not. */
export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<RunStore> {
  const warn = options.warn ?? console.error;
  const { context, config } = await openMigratedPool(url, {
    poolSize: options.poolSize ?? 10,
    warn,
    what: "run store",
  });
  const notifier = new FeedNotifier(
    () => new pg.Client(config),
    (message) => warn(`run store: ${context.scrub(message)}`),
  );
  const nodeEventsNotifier = new FeedNotifier(
    () => new pg.Client(config),
    (message) => warn(`run store: ${context.scrub(message)}`),
    { name: NODE_EVENTS_CHANNEL, what: "node event" },
  );
  return new PostgresStore(context, notifier, nodeEventsNotifier);
}

class PostgresStore implements RunStore {
  private readonly feed: PostgresFeed;
  private readonly lifecycle: PostgresRunLifecycle;
  private readonly approvals: PostgresApprovals;
  private readonly pages: PostgresRunPages;
  private readonly hosts: PostgresHosts;
  private readonly schedules: PostgresSchedules;
  private readonly nodeEvents: PostgresNodeEvents;
  /** Log lines, written in batches; every other write of a lease holder is queued in order with them. */
  private readonly logs: LogBatcher;

  constructor(
    private readonly context: PostgresContext,
    private readonly notifier: FeedNotifier,
    private readonly nodeEventsNotifier: FeedNotifier,
  ) {
    this.feed = new PostgresFeed(context, notifier);
    this.lifecycle = new PostgresRunLifecycle(context, this.feed);
    this.approvals = new PostgresApprovals(context, this.feed);
    this.pages = new PostgresRunPages(context);
    this.hosts = new PostgresHosts(context);
    this.schedules = new PostgresSchedules(context);
    this.nodeEvents = new PostgresNodeEvents(context, nodeEventsNotifier);
    this.logs = new LogBatcher((lease, bodies) =>
      context.guard("append to the run's log", () => this.feed.appendLogBatch(context.pool, lease, bodies)),
    );
  }

  async now(): Promise<number> {
    const rows = await this.context.rows<{ now: number }>("read the clock", `SELECT ${NOW} AS now`);
    return rows[0]?.now ?? Date.now();
  }

  createRun: RunStore["createRun"] = (run) => this.lifecycle.createRun(run);
  getRun: RunStore["getRun"] = (id) => this.lifecycle.getRun(id);

  async listRuns(query: RunQuery): Promise<RunRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const param = (value: unknown): string => `$${args.push(value)}`;
    if (query.host !== undefined) where.push(`host = ${param(query.host)}`);
    if (query.group !== undefined) where.push(`group_id = ${param(query.group)}`);
    if (query.states?.length) where.push(`state = ANY(${param(query.states)}::text[])`);
    const rows = await this.context.rows<RunRow>(
      "list runs",
      `SELECT ${RUN_COLUMNS} FROM runs ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
       ORDER BY created_at DESC, created_order DESC LIMIT ${param(query.limit ?? 1000)}`,
      args,
    );
    return rows.map(toRun);
  }

  pageRuns: RunStore["pageRuns"] = (query) => this.pages.pageRuns(query);
  countRunsByState: RunStore["countRunsByState"] = () => this.pages.countRunsByState();
  deleteFinishedRun: RunStore["deleteFinishedRun"] = (runId) => this.pages.deleteFinishedRun(runId);
  queryAudit: RunStore["queryAudit"] = (query) => this.pages.queryAudit(query);
  listHosts: RunStore["listHosts"] = (query) => this.hosts.listHosts(query);
  hostHistory: RunStore["hostHistory"] = (host, query) => this.hosts.hostHistory(host, query);

  createSchedule: RunStore["createSchedule"] = (schedule) => this.schedules.create(schedule);
  getSchedule: RunStore["getSchedule"] = (id) => this.schedules.get(id);
  listSchedules: RunStore["listSchedules"] = () => this.schedules.list();
  deleteSchedule: RunStore["deleteSchedule"] = (id) => this.schedules.delete(id);
  dueSchedules: RunStore["dueSchedules"] = () => this.schedules.due();
  claimOccurrence: RunStore["claimOccurrence"] = (claim) => this.schedules.claim(claim);
  recordOccurrenceResult: RunStore["recordOccurrenceResult"] = (id, at, result) =>
    this.schedules.recordResult(id, at, result);
  listOccurrences: RunStore["listOccurrences"] = (id, limit) => this.schedules.occurrences(id, limit);

  recordNodeEvent: RunStore["recordNodeEvent"] = (event) => this.nodeEvents.record(event);
  listNodeEvents: RunStore["listNodeEvents"] = (query) => this.nodeEvents.list(query);
  latestNodeEventSeq: RunStore["latestNodeEventSeq"] = () => this.nodeEvents.latestSeq();
  nodeEventsAfter: RunStore["nodeEventsAfter"] = (afterSeq, query) => this.nodeEvents.after(afterSeq, query);
  followNodeEvents: RunStore["followNodeEvents"] = (afterSeq, follow) =>
    this.nodeEvents.follow(afterSeq, follow);
  claimRuleFiring: RunStore["claimRuleFiring"] = (claim) => this.nodeEvents.claim(claim);
  recordRuleFiringResult: RunStore["recordRuleFiringResult"] = (claim, result) =>
    this.nodeEvents.recordResult(claim, result);
  getRuleFiring: RunStore["getRuleFiring"] = (rule, host) => this.nodeEvents.get(rule, host);
  holdRuleEvent: RunStore["holdRuleEvent"] = (claim) => this.nodeEvents.hold(claim);
  claimHeldFiring: RunStore["claimHeldFiring"] = (key) => this.nodeEvents.claimHeld(key);
  heldRuleEvents: RunStore["heldRuleEvents"] = () => this.nodeEvents.held();

  decideApproval: RunStore["decideApproval"] = (decision) => this.approvals.decideApproval(decision);
  listApprovals: RunStore["listApprovals"] = (runId) => this.approvals.listApprovals(runId);
  expireApprovals: RunStore["expireApprovals"] = () => this.approvals.expireApprovals();

  claimableRuns: RunStore["claimableRuns"] = () => this.lifecycle.claimableRuns();
  claim: RunStore["claim"] = (runId, owner, leaseMs) => this.lifecycle.claim(runId, owner, leaseMs);
  renew: RunStore["renew"] = (owner, runIds, leaseMs) => this.lifecycle.renew(owner, runIds, leaseMs);
  release: RunStore["release"] = (lease) =>
    this.logs.inOrder(lease.runId, () => this.lifecycle.release(lease));
  markStarted: RunStore["markStarted"] = (lease) =>
    this.logs.inOrder(lease.runId, () => this.lifecycle.markStarted(lease));
  finishIfOwner: RunStore["finishIfOwner"] = (lease, ending) =>
    this.logs.inOrder(lease.runId, () => this.lifecycle.finishIfOwner(lease, ending));
  finishPlanForApproval: RunStore["finishPlanForApproval"] = (lease) =>
    this.logs.inOrder(lease.runId, () => this.lifecycle.finishPlanForApproval(lease));
  cancelIfQueued: RunStore["cancelIfQueued"] = (runId, error) => this.lifecycle.cancelIfQueued(runId, error);
  requestCancel: RunStore["requestCancel"] = (runId) => this.lifecycle.requestCancel(runId);
  retryRun: RunStore["retryRun"] = (request) => this.lifecycle.retryRun(request);

  async listSteps(runId: string): Promise<StepRecord[]> {
    const rows = await this.context.preparedRows<StepRow>(
      "list a run's steps",
      `SELECT ${STEP_ROW_COLUMNS} FROM steps WHERE run_id = $1 ORDER BY idx`,
      [runId],
    );
    return rows.map(toStep);
  }

  async writeStep(lease: Lease, index: number, write: StepWrite): Promise<boolean> {
    return this.logs.inOrder(lease.runId, async () => {
      const { sql, args } = stepWriteStatement(lease, index, write);
      const rows = await this.context.preparedRows<{ held: number }>("record a step", sql, args);
      return rows[0]?.held === 1;
    });
  }

  async getSnapshot(runId: string, index: number, phase: "input" | "output"): Promise<string | undefined> {
    // A step's input is the newest clipboard before it: an operator's edit at this index, else the
    // output of the nearest earlier step that wrote one (skipped steps write none).
    const sql =
      phase === "input"
        ? `SELECT yaml FROM snapshots WHERE run_id = $1 AND ((idx = $2 AND phase = 'input') OR (idx < $2))
             ORDER BY idx DESC, phase = 'output' DESC LIMIT 1`
        : `SELECT yaml FROM snapshots WHERE run_id = $1 AND idx <= $2
             ORDER BY idx DESC, phase = 'output' DESC LIMIT 1`;
    const rows = await this.context.preparedRows<{ yaml: string }>("read a snapshot", sql, [runId, index]);
    return rows[0]?.yaml;
  }

  async appendLog(
    lease: Lease,
    line: Omit<Extract<RunEventBody, { type: "step-log" }>, "type">,
  ): Promise<boolean> {
    return this.logs.append(lease, JSON.stringify({ type: "step-log", ...line }));
  }

  async appendEvent(lease: Lease, event: StepEventBody): Promise<boolean> {
    return this.logs.inOrder(lease.runId, () =>
      this.context.guard("append to the run's feed", () =>
        this.feed.appendFenced(this.context.pool, lease, event),
      ),
    );
  }

  readLog(runId: string): Promise<LogLine[]> {
    return this.feed.readLog(runId);
  }

  latestSeq(): Promise<number> {
    return this.feed.latestSeq();
  }

  readEvents(afterSeq: number, query: FeedQuery = {}) {
    return this.feed.read(afterSeq, query);
  }

  follow(afterSeq: number, options: FollowOptions) {
    return this.feed.follow(afterSeq, options);
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    await this.context.rows(
      "write the audit log",
      `INSERT INTO audit (at, identity, network, room, command, decision, reason, run_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        entry.at,
        entry.identity,
        entry.network,
        entry.room,
        entry.command,
        entry.decision,
        entry.reason,
        entry.runId,
      ],
    );
  }

  async listAudit(limit: number): Promise<AuditEntry[]> {
    return this.pages.queryAudit({ limit });
  }

  private closed = false;

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Lines asked for before close are kept, as they would have been one by one.
    await this.logs.settleAll();
    await this.notifier.close();
    await this.nodeEventsNotifier.close();
    await this.context.end();
  }
}
