/**
 * The jobs' engine: makes a job over a resolved host list, sends each node its signed request as
 * batches, concurrency and max_failures allow, follows the agents' replies (ACK, running, result,
 * refusal) into the store, and on a sweep expires requests past their TTL and marks nodes that went
 * silent mid-job unreachable. Node liveness (heartbeats) and facts come in here too.
 */
import { randomUUID } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { setInterval as every } from "node:timers/promises";
import { JobError } from "../errors.js";
import type { AgentReply, FactsMessage, Heartbeat, JobRequest, Operation } from "../agent/protocol.js";
import { signRequest } from "../agent/signing.js";
import { newRunId } from "../store/ids.js";
import type { NodeStore } from "../nodes/node-store.js";
import type { JobNodeChange, JobStore } from "./job-store.js";
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

/** Heartbeats a node may miss before it counts as offline. */
const MISSED_HEARTBEATS = 3;

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

export type JobChange = { jobId: string; host?: string; state: NodeJobState | JobState };

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
  private readonly stopping = new AbortController();
  private readonly inbox: AgentInbox;

  constructor(private readonly o: JobControllerOptions) {
    this.inbox = new AgentInbox(
      o.bus,
      {
        heartbeats: (beats) => this.heartbeats(beats),
        facts: (host, facts) => this.facts(host, facts),
        replies: (replies) => this.replies(replies),
      },
      o.log,
    );
  }

  async start(): Promise<void> {
    // Jobs first: replies that came while jarvis was down must find their job when they are read.
    for (const job of await this.o.jobs.runningJobs()) await this.activate(job);
    await this.inbox.start();
    void (async () => {
      try {
        for await (const _ of every(this.o.sweepMs ?? 1000, undefined, { signal: this.stopping.signal })) {
          await this.sweep().catch((err: unknown) => this.o.log(`job sweep: ${(err as Error).message}`));
        }
      } catch (err) {
        if (!this.stopping.signal.aborted) throw err;
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.inbox.stop();
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
    await this.activate(job);
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
      const changed = new Promise<void>((resolve) => {
        const off = this.onChange((c) => {
          if (c.jobId === jobId && c.host === undefined) {
            off();
            resolve();
          }
        });
        signal?.addEventListener("abort", () => {
          off();
          resolve();
        });
      });
      const { job } = await this.get(jobId);
      if (job.finishedAt !== null) return job;
      signal?.throwIfAborted();
      await changed;
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
    if (active) {
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
          await this.sendControl(n.host, { kind: "cancel", requestId: n.requestId }, active.job);
        }
      }
      await this.settle(active);
    }
    return (await this.get(jobId)).job;
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

  private emit(change: JobChange): void {
    for (const l of this.listeners) l(change);
  }

  private async activate(job: JobRecord): Promise<void> {
    const active = new ActiveJob(job, await this.o.jobs.jobNodes(job.id));
    this.active.set(job.id, active);
    for (const n of active.nodes) this.byRequest.set(n.requestId, active);
    await this.settle(active);
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
        await this.sendAll(active, decision.send);
      }
      if (active.nodes.every((n) => isFinal(n.state))) await this.end(active);
    });
  }

  /**
   * Publish to many nodes at once (nats-server takes a pipeline of publishes in its stride), then
   * record what was sent in one transaction. What the bus does not take now (a timeout on a busy
   * server) stays unsent and is sent again at the next sweep: the request id is the JetStream
   * message id, so a publish that did land is not stored twice.
   */
  private async sendAll(active: ActiveJob, hosts: readonly string[]): Promise<void> {
    if (hosts.length === 0) return;
    try {
      await this.o.bus.ensureNodeConsumers(hosts);
    } catch (err) {
      this.o.log(
        `job ${active.job.id}: cannot make the nodes' consumers (${(err as Error).message}); trying again`,
      );
      return;
    }
    const now = Date.now();
    const sent = await Promise.all(hosts.map((host) => this.send(active, host, now)));
    await this.o.jobs.updateNodes(sent.filter((c): c is JobNodeChange => c !== undefined));
  }

  /** The store change recording the send, or undefined when the bus did not take it. */
  private async send(active: ActiveJob, host: string, now: number): Promise<JobNodeChange | undefined> {
    const node = active.node(host);
    const request: JobRequest = {
      id: node.requestId,
      jobId: active.job.id,
      target: host,
      issuedAt: now,
      ttlMs: active.job.options.ttlMs,
      timeoutMs: active.job.options.timeoutMs,
      operation: active.job.operation,
    };
    node.sent = true;
    node.sentAt = now;
    try {
      const seq = await this.o.bus.publishRequest(host, request.id, signRequest(request, this.o.signingKey));
      node.streamSeq = seq;
      return {
        jobId: active.job.id,
        host,
        from: ["queued", "received", "running"],
        patch: { sentAt: now, streamSeq: seq },
      };
    } catch (err) {
      node.sent = false;
      node.sentAt = null;
      this.o.log(`job ${active.job.id}: sending to ${host} failed (${(err as Error).message}); trying again`);
      return undefined;
    }
  }

  private async sendControl(host: string, operation: Operation, job: JobRecord): Promise<void> {
    const id = randomUUID();
    const request: JobRequest = {
      id,
      jobId: job.id,
      target: host,
      issuedAt: Date.now(),
      ttlMs: 60_000,
      timeoutMs: 10_000,
      operation,
    };
    await this.o.bus.publishRequest(host, id, signRequest(request, this.o.signingKey));
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
    moves.forEach((m, i) => {
      if (!applied[i]) return;
      const node = m.active.node(m.host);
      node.state = m.patch.state;
      if (m.patch.receivedAt !== undefined) node.receivedAt = m.patch.receivedAt;
      this.emit({ jobId: m.active.job.id, host: m.host, state: m.patch.state });
    });
    return applied;
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

  private async heartbeats(beats: { host: string; beat: Heartbeat }[]): Promise<void> {
    // jarvis's clock, not the node's: liveness must not depend on the node's clock being right.
    const at = Date.now();
    await this.o.nodes.recordHeartbeats(
      beats.map(({ host, beat }) => ({
        host,
        at,
        agentVersion: beat.version,
        groups: beat.groups,
        offlineAfterMs: beat.intervalS * 1000 * MISSED_HEARTBEATS,
      })),
    );
    // A node's consumer is made when jarvis first hears from it, not on its first job's hot path.
    const unknown = [...new Set(beats.map((b) => b.host))].filter((h) => !this.o.bus.hasNodeConsumer(h));
    if (unknown.length > 0) {
      this.o.bus
        .ensureNodeConsumers(unknown)
        .catch((err: unknown) =>
          this.o.log(`cannot make the consumers of ${unknown.length} nodes yet: ${(err as Error).message}`),
        );
    }
  }

  private async facts(host: string, facts: FactsMessage): Promise<void> {
    await this.o.nodes.recordFacts({
      host,
      at: Date.now(),
      hash: facts.hash,
      groups: facts.groups,
      facts: facts.facts,
    });
  }

  /** A tick's replies: one transaction for all their moves, then one settle per job that has new results. */
  private async replies(replies: { host: string; reply: AgentReply }[]): Promise<void> {
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

  /** TTLs, nodes gone silent mid-job, and results that never came. */
  private async sweep(): Promise<void> {
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
