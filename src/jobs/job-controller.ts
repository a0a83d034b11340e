/**
 * The jobs' engine: makes a job over a resolved host list, sends each node its signed request as
 * batches, concurrency and max_failures allow, follows the agents' replies (ACK, running, result,
 * refusal) into the store, and on a sweep expires requests past their TTL and marks nodes that went
 * silent mid-job unreachable. Node liveness (heartbeats) and facts come in here too.
 *
 * Any replica makes, cancels and shows jobs; only the one holding the job-driving lease (see
 * driving-lease.ts) sends, reads the agents' replies and settles. A job made or cancelled on
 * another replica is in the store, and the driver takes it from there: told at once over NATS, or
 * at its next sweep. A replica that takes the lease over picks up every unfinished job.
 */
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import type { KeyObject } from "node:crypto";
import { setInterval as every, setTimeout as sleep } from "node:timers/promises";
import { JobError, errorMessage } from "../errors.js";
import type { AgentReply } from "../agent/protocol.js";
import { newRunId } from "../store/ids.js";
import type { NodeStore } from "../nodes/node-store.js";
import type { JobStore } from "./job-store.js";
import type { AgentBus } from "./agent-bus.js";
import { AgentInbox } from "./agent-inbox.js";
import { FAILED_STATES, isFinal } from "./job.js";
import type {
  JobNodeRecord,
  JobOperation,
  JobOptions,
  JobRecord,
  JobState,
  JobTargets,
  NodeJobState,
} from "./job.js";
import { schedule } from "./job-schedule.js";
import { ActiveJob } from "./active-job.js";
import { goneNodes } from "./gone-nodes.js";
import { replyMoves, sweepMoves } from "./node-moves.js";
import type { NodeMove } from "./node-moves.js";
import { NodeIntake } from "./node-intake.js";
import { soleJobControl } from "./job-control.js";
import type { JobControl } from "./job-control.js";
import { DrivingLease } from "./driving-lease.js";
import { RequestSender } from "./request-sender.js";
import { JobSignals } from "./job-signals.js";
import type { JobChange } from "./job-signals.js";

export type { JobChange } from "./job-signals.js";

/** Default job-driving lease: a killed driver is replaced within about this long. */
const DEFAULT_LEASE_MS = 15_000;
/**
 * How often a replica waiting for a job it does not drive reads it again, in case a change signal
 * was lost (the signals are best effort).
 */
const FOLLOWER_RECHECK_MS = 2_000;

export interface JobControllerOptions {
  bus: AgentBus;
  nodes: NodeStore;
  jobs: JobStore;
  signingKey: KeyObject;
  log: (line: string) => void;
  /** How often TTLs, silent nodes and deadlines are checked. */
  sweepMs?: number;
  /** Past a node's timeout, how long jarvis still waits for its result before `unreachable`. */
  resultGraceMs?: number;
  /** Who drives the jobs (default: this process alone, as on SQLite). */
  control?: JobControl;
  /** This replica's id as the lease's owner (the engine's owner id). */
  owner?: string;
  /** How long the driving lease lasts without being extended. */
  leaseMs?: number;
}

export interface JobSubmission {
  operation: JobOperation;
  /** The resolved hosts, in the order they run (batches follow it). */
  hosts: string[];
  targets: JobTargets;
  options: JobOptions;
  requester: string;
  rerunOf?: string;
}

export type RerunScope = "failed" | "unreachable" | "expired" | "all";

/** A fenced move of one node of an active job. */
interface PendingMove {
  active: ActiveJob;
  host: string;
  from: readonly NodeJobState[];
  patch: NodeMove;
}

export class JobController {
  private readonly active = new Map<string, ActiveJob>();
  /** requestId -> job, for the replies of active jobs. */
  private readonly byRequest = new Map<string, ActiveJob>();
  private readonly listeners = new Set<(change: JobChange) => void>();
  private readonly inbox: AgentInbox;
  private readonly sender: RequestSender;
  private readonly control: JobControl;
  private readonly lease: DrivingLease;
  /** Only with replicas: a lone process has nobody to tell. */
  private readonly signals: JobSignals | undefined;
  /** Set while this process drives the jobs; aborted when it stops. */
  private driving: AbortController | undefined;
  private sweeping: Promise<void> = Promise.resolve();

  constructor(private readonly o: JobControllerOptions) {
    const intake = new NodeIntake(o.bus, o.nodes, o.log);
    this.inbox = new AgentInbox(
      o.bus,
      {
        heartbeats: (beats) => intake.heartbeats(beats),
        facts: (host, facts) => intake.facts(host, facts),
        replies: (replies) => this.replies(replies),
      },
      o.log,
    );
    this.sender = new RequestSender(o.bus, o.jobs, o.signingKey, o.log);
    this.control = o.control ?? soleJobControl;
    const owner = o.owner ?? randomUUID();
    this.lease = new DrivingLease({
      control: this.control,
      owner,
      leaseMs: o.leaseMs ?? DEFAULT_LEASE_MS,
      log: o.log,
      onGained: () => this.drive(),
      onLost: () => this.park(),
    });
    this.signals = this.control.sole
      ? undefined
      : new JobSignals(
          o.bus.nc,
          owner,
          {
            look: (jobId) => void this.look(jobId),
            changes: (changes) => changes.forEach((c) => this.tell(c)),
          },
          o.log,
        );
  }

  async start(): Promise<void> {
    this.inbox.listenHeartbeats();
    this.signals?.start();
    await this.lease.start();
  }

  async stop(): Promise<void> {
    await this.lease.stop();
    await this.signals?.stop();
    await this.inbox.stop();
  }

  /** Take the jobs up: this process holds the lease. */
  private async drive(): Promise<void> {
    const driving = new AbortController();
    this.driving = driving;
    // Jobs first: replies that came while nobody drove must find their job when they are read.
    for (const job of await this.o.jobs.runningJobs()) await this.adopt(job);
    await this.inbox.readStream();
    this.sweeping = (async () => {
      try {
        for await (const _ of every(this.o.sweepMs ?? 1000, undefined, { signal: driving.signal })) {
          await this.sweep().catch((err: unknown) => this.o.log(`job sweep: ${errorMessage(err)}`));
        }
      } catch (err) {
        if (!driving.signal.aborted) throw err;
      }
    })();
  }

  /** Let the jobs go: another replica drives them from the store. */
  private async park(): Promise<void> {
    this.driving?.abort();
    this.driving = undefined;
    await this.inbox.stopStream();
    await this.sweeping;
    this.active.clear();
    this.byRequest.clear();
  }

  /** A job made or cancelled on another replica: take it up, or carry its cancel out. */
  private async look(jobId: string): Promise<void> {
    if (!this.driving) return;
    try {
      const job = await this.o.jobs.getJob(jobId);
      if (job) await this.adopt(job);
    } catch (err) {
      this.o.log(`job ${jobId}: ${errorMessage(err)}; the next sweep takes it up`);
    }
  }

  /** A job the store has, into this driver's hands; a cancel made elsewhere, carried out. */
  private async adopt(job: JobRecord): Promise<void> {
    if (job.finishedAt !== null) return;
    let active = this.active.get(job.id);
    const known = active !== undefined;
    active ??= await this.activate(job);
    // Made cancelled here (a restart or a takeover), or cancelled on another replica since.
    if (job.state === "cancelled" && !active.ended && !(known && active.cancelled))
      await this.cancelActive(active);
  }

  onChange(listener: (change: JobChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async submit(s: JobSubmission): Promise<JobRecord> {
    const hosts = [...new Set(s.hosts)];
    if (hosts.length === 0)
      throw new JobError("E_JOB_NO_TARGETS", "no node matches the job's targets; see 'hosts'");
    const job: JobRecord = {
      id: newRunId(),
      createdAt: Date.now(),
      finishedAt: null,
      requester: s.requester,
      operation: s.operation,
      targets: s.targets,
      options: s.options,
      state: "running",
      rerunOf: s.rerunOf ?? null,
    };
    await this.o.jobs.createJob(
      job,
      hosts.map((host) => ({ host, requestId: randomUUID() })),
    );
    if (this.driving) await this.activate(job);
    else this.signals?.look(job.id);
    return job;
  }

  async get(jobId: string): Promise<{ job: JobRecord; nodes: JobNodeRecord[] }> {
    const job = await this.o.jobs.getJob(jobId);
    if (!job) throw new JobError("E_JOB_UNKNOWN", `no job ${jobId}; 'jarvis jobs' lists the jobs`);
    return { job, nodes: await this.o.jobs.jobNodes(jobId) };
  }

  /** Resolves with the job once it is done, failure or cancelled (and every node final). */
  async waitDone(jobId: string, signal?: AbortSignal): Promise<JobRecord> {
    for (;;) {
      const woken = new AbortController();
      const wake = (): void => woken.abort();
      const off = this.onChange((c) => {
        if (c.jobId === jobId && c.host === undefined) wake();
      });
      signal?.addEventListener("abort", wake);
      try {
        const { job } = await this.get(jobId);
        if (job.finishedAt !== null) return job;
        signal?.throwIfAborted();
        // A replica that does not drive the job hears of its end by a signal that may be lost.
        if (this.control.sole) await once(woken.signal, "abort");
        else
          await sleep(FOLLOWER_RECHECK_MS, undefined, { signal: woken.signal }).catch((err: unknown) => {
            if (!woken.signal.aborted) throw err;
          });
      } finally {
        off();
        signal?.removeEventListener("abort", wake);
      }
    }
  }

  /** Stop a job: unsent nodes are skipped, nodes that have it get a cancel (their process group is killed). */
  async cancel(jobId: string): Promise<JobRecord> {
    const { job } = await this.get(jobId);
    if (!(await this.o.jobs.setJobState(jobId, ["running"], "cancelled", null))) {
      throw new JobError("E_JOB_STATE", `job ${jobId} is ${job.state}; only a running job can be cancelled`);
    }
    this.emit({ jobId, state: "cancelled" });
    const active = this.active.get(jobId);
    if (active) await this.cancelActive(active);
    else if (!this.driving) this.signals?.look(jobId);
    return (await this.get(jobId)).job;
  }

  /** Skip the nodes that do not have the request yet, and tell those that have it to stop. */
  private async cancelActive(active: ActiveJob): Promise<void> {
    active.cancelled = true;
    for (const n of active.nodes) {
      if (isFinal(n.state)) continue;
      if (!n.sent || n.state === "queued") {
        if (n.streamSeq !== null) await this.o.bus.withdraw(n.streamSeq);
        await this.finishNode(active, n.host, ["queued"], {
          state: "skipped",
          message: "the job was cancelled before this node took it",
        });
      }
      if (n.sent && (n.state === "received" || n.state === "running")) {
        await this.sender.sendControl(n.host, { kind: "cancel", requestId: n.requestId }, active.job);
      }
    }
    await this.settle(active);
  }

  /** A new job with the same operation, targets and options over the nodes that ended in `only`. */
  async rerun(jobId: string, only: RerunScope, requester: string): Promise<JobRecord> {
    const { job, nodes } = await this.get(jobId);
    if (job.finishedAt === null)
      throw new JobError("E_JOB_STATE", `job ${jobId} is still running; rerun it when it has ended`);
    const hosts = nodes.filter((n) => only === "all" || n.state === only).map((n) => n.host);
    if (hosts.length === 0)
      throw new JobError("E_JOB_NO_TARGETS", `no node of job ${jobId} ended ${only}; nothing to rerun`);
    return this.submit({
      operation: job.operation,
      hosts,
      targets: job.targets,
      options: job.options,
      requester,
      rerunOf: jobId,
    });
  }

  /** A change this process made: its own listeners, and the other replicas'. */
  private emit(change: JobChange): void {
    this.tell(change);
    this.signals?.changed(change);
  }

  private tell(change: JobChange): void {
    for (const l of this.listeners) l(change);
  }

  private async activate(job: JobRecord): Promise<ActiveJob> {
    const active = new ActiveJob(job, await this.o.jobs.jobNodes(job.id));
    this.active.set(job.id, active);
    for (const n of active.nodes) this.byRequest.set(n.requestId, active);
    await this.settle(active);
    return active;
  }

  /**
   * Settle soon, without waiting: replies must not queue behind a settle that is still sending,
   * and the results of a thousand nodes need one settle, not a thousand.
   */
  private requestSettle(active: ActiveJob): void {
    if (active.settleQueued) return;
    active.settleQueued = true;
    this.settle(active).catch((err: unknown) =>
      this.o.log(`job ${active.job.id}: ${(err as Error).message}; the next sweep settles it again`),
    );
  }

  /** Send what the schedule allows, skip what it rules out, and end the job when every node has. */
  private async settle(active: ActiveJob): Promise<void> {
    active.settleQueued = true;
    await active.exclusive(async () => {
      active.settleQueued = false;
      if (active.ended) return;
      if (!active.cancelled) {
        const decision = schedule(active.nodes, active.job.options);
        for (const host of decision.skip) {
          await this.finishNode(active, host, ["queued"], {
            state: "skipped",
            message: "max_failures was passed",
          });
        }
        await this.sender.sendAll(active, decision.send);
      }
      if (active.nodes.every((n) => isFinal(n.state))) await this.end(active);
    });
  }

  private async end(active: ActiveJob): Promise<void> {
    const failed = active.nodes.some((n) => FAILED_STATES.includes(n.state));
    const to: JobState = active.cancelled ? "cancelled" : failed ? "failure" : "done";
    await this.o.jobs.setJobState(active.job.id, ["running", "cancelled"], to, Date.now());
    active.ended = true;
    this.active.delete(active.job.id);
    for (const n of active.nodes) this.byRequest.delete(n.requestId);
    this.emit({ jobId: active.job.id, state: to });
  }

  /** Fenced moves, in one transaction; each in-memory copy follows only when the store moved. */
  private async applyMoves(moves: readonly PendingMove[]): Promise<boolean[]> {
    const applied = await this.o.jobs.updateNodes(
      moves.map((m) => ({ jobId: m.active.job.id, host: m.host, from: m.from, patch: m.patch })),
    );
    const behind = new Set<ActiveJob>();
    moves.forEach((m, i) => {
      const node = m.active.node(m.host);
      if (!applied[i]) {
        if (isFinal(m.patch.state) && !isFinal(node.state)) behind.add(m.active);
        return;
      }
      node.state = m.patch.state;
      if (m.patch.receivedAt !== undefined) node.receivedAt = m.patch.receivedAt;
      this.emit({ jobId: m.active.job.id, host: m.host, state: m.patch.state });
    });
    for (const active of behind) await this.catchUp(active);
    return applied;
  }

  /**
   * The store refused to end a node this process holds as open: another process ended it first
   * (a driver that lost its lease a moment late). The ends the store has are taken over, so the
   * job still ends; without them it would wait forever for a node that is over.
   */
  private async catchUp(active: ActiveJob): Promise<void> {
    let ended = false;
    for (const record of await this.o.jobs.jobNodes(active.job.id)) {
      const node = active.node(record.host);
      if (isFinal(record.state) && !isFinal(node.state)) {
        node.state = record.state;
        ended = true;
      }
    }
    if (ended) this.requestSettle(active);
  }

  private async finishNode(
    active: ActiveJob,
    host: string,
    from: readonly NodeJobState[],
    patch: NodeMove,
  ): Promise<boolean> {
    const [applied] = await this.applyMoves([
      { active, host, from, patch: { finishedAt: Date.now(), ...patch } },
    ]);
    return applied === true;
  }

  /** A tick's replies: one transaction for all their moves, then one settle per job that has new results. */
  private async replies(replies: { host: string; reply: AgentReply }[]): Promise<void> {
    // Past its lease this process may no longer write: left unacknowledged, for the next driver.
    if (!this.lease.valid)
      throw new JobError(
        "E_JOB_NOT_DRIVER",
        "this replica no longer holds the job-driving lease; the replies go to the replica that does",
      );
    await this.adoptUnknown(replies);
    const moves: PendingMove[] = [];
    for (const { host, reply } of replies) {
      if (reply.requestId === null) {
        this.o.log(`${host} refused an unreadable request: ${reply.kind === "refusal" ? reply.message : ""}`);
        continue;
      }
      const active = this.byRequest.get(reply.requestId);
      // The host must be the one the request was for: a reply on another node's subject is not one.
      if (!active || !active.has(host) || active.node(host).requestId !== reply.requestId) continue;
      if (reply.kind === "refusal")
        this.o.log(`job ${active.job.id}: ${host} refused its request: ${reply.reason}: ${reply.message}`);
      for (const move of replyMoves(reply)) moves.push({ active, host, ...move });
    }
    await this.applyMoves(moves);
    for (const m of moves) if (isFinal(m.patch.state)) this.requestSettle(m.active);
  }

  /**
   * The jobs of replies whose request this driver does not hold: a job made on another replica
   * whose signal has not come yet. A reply for an ended job, or for a cancel, finds none.
   */
  private async adoptUnknown(replies: { host: string; reply: AgentReply }[]): Promise<void> {
    for (const { host, reply } of replies) {
      if (reply.requestId === null || this.byRequest.has(reply.requestId)) continue;
      const node = await this.o.jobs.nodeByRequest(host, reply.requestId);
      const job = node && (await this.o.jobs.getJob(node.jobId));
      if (job) await this.adopt(job);
    }
  }

  /** TTLs, nodes gone silent mid-job, and results that never came; with replicas, new jobs and cancels. */
  private async sweep(): Promise<void> {
    if (!this.control.sole) for (const job of await this.o.jobs.runningJobs()) await this.adopt(job);
    const now = Date.now();
    await this.o.nodes.markSilentOffline(now);
    const actives = [...this.active.values()];
    const holding = actives.flatMap((a) =>
      a.nodes.filter((n) => n.sent && (n.state === "received" || n.state === "running")),
    );
    const offline = holding.length === 0 ? new Set<string>() : new Set(await this.o.nodes.offlineHosts());
    // Heartbeats can only say a node is silent; whether it is gone, its connection says.
    const silent = holding.filter((n) => offline.has(n.host)).map((n) => n.host);
    const gone = goneNodes(
      silent,
      silent.length === 0 ? new Set() : await this.o.bus.subscribedNodes(silent),
    );
    const grace = this.o.resultGraceMs ?? 30_000;
    for (const active of actives) {
      const moves = sweepMoves(active.nodes, active.job.options, gone, now, grace);
      for (const m of moves) if (m.withdraw !== null) await this.o.bus.withdraw(m.withdraw);
      await this.applyMoves(moves.map((m) => ({ active, host: m.host, from: m.from, patch: m.patch })));
      await this.settle(active);
    }
  }
}
