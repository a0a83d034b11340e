/**
 * The jobs' engine: makes a job over a resolved host list, sends each node its signed request as
 * batches, concurrency and max_failures allow, follows the agents' replies (ACK, running, result,
 * refusal) into the store, and on a sweep expires requests past their TTL and marks nodes that went
 * silent mid-job unreachable. Node liveness (heartbeats) and facts come in here too.
 */
import { randomUUID } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { setInterval as every } from "node:timers/promises";
import type { ConsumerMessages } from "@nats-io/jetstream";
import type { Msg, Subscription } from "@nats-io/transport-node";
import { JobError } from "../errors.js";
import { AGENT_STREAM, AgentReply, FactsMessage, Heartbeat, nodeOfSubject } from "../agent/protocol.js";
import type { JobRequest, Operation } from "../agent/protocol.js";
import { signRequest } from "../agent/signing.js";
import { newRunId } from "../store/ids.js";
import type { NodeStore } from "../nodes/node-store.js";
import type { JobStore } from "./job-store.js";
import type { AgentBus } from "./agent-bus.js";
import { JARVIS_CONSUMER } from "./agent-bus.js";
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
import { inPool } from "./in-pool.js";

/** Requests published and not yet stored by JetStream, at most. */
const PUBLISHES_IN_FLIGHT = 128;
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

export class JobController {
  private readonly active = new Map<string, ActiveJob>();
  /** requestId -> job, for the replies of active jobs. */
  private readonly byRequest = new Map<string, ActiveJob>();
  private readonly listeners = new Set<(change: JobChange) => void>();
  private readonly stopping = new AbortController();
  private heartbeats: Subscription | undefined;
  private replies: ConsumerMessages | undefined;

  constructor(private readonly o: JobControllerOptions) {}

  async start(): Promise<void> {
    this.heartbeats = this.o.bus.nc.subscribe("jarvis.hb.*", {
      callback: (err, msg) => (err ? this.o.log(`heartbeats: ${err.message}`) : void this.heartbeat(msg)),
    });
    const consumer = await this.o.bus.js.consumers.get(AGENT_STREAM, JARVIS_CONSUMER);
    this.replies = await consumer.consume({ max_messages: 2000 });
    void (async () => {
      for await (const m of this.replies!) {
        await this.agentMessage(m.subject, m.data).catch((err: unknown) =>
          this.o.log(`agent message on ${m.subject}: ${(err as Error).message}`),
        );
        m.ack();
      }
    })();
    for (const job of await this.o.jobs.runningJobs()) await this.activate(job);
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
    this.heartbeats?.unsubscribe();
    await this.replies?.close();
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

  /** Send what the schedule allows, skip what it rules out, and end the job when every node has. */
  private async settle(active: ActiveJob): Promise<void> {
    await active.exclusive(async () => {
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
   * Publish to many nodes, a window of them in flight. What the bus does not take now (a timeout
   * on a busy server) stays unsent and is sent again at the next sweep: the request id is the
   * JetStream message id, so a publish that did land is not stored twice.
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
    await inPool(hosts, PUBLISHES_IN_FLIGHT, async (host) => {
      try {
        await this.send(active, host);
      } catch (err) {
        const node = active.node(host);
        node.sent = false;
        node.sentAt = null;
        this.o.log(
          `job ${active.job.id}: sending to ${host} failed (${(err as Error).message}); trying again`,
        );
      }
    });
  }

  private async send(active: ActiveJob, host: string): Promise<void> {
    const node = active.node(host);
    const now = Date.now();
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
    const seq = await this.o.bus.publishRequest(host, request.id, signRequest(request, this.o.signingKey));
    node.streamSeq = seq;
    await this.o.jobs.updateNode(active.job.id, host, ["queued", "received", "running"], {
      sentAt: now,
      streamSeq: seq,
    });
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
    this.active.delete(active.job.id);
    for (const n of active.nodes) this.byRequest.delete(n.requestId);
    this.emit({ jobId: active.job.id, state: to });
  }

  /** A fenced move of one node; the in-memory copy follows only when the store moved. */
  private async moveNode(
    active: ActiveJob,
    host: string,
    from: readonly NodeJobState[],
    patch: Parameters<JobStore["updateNode"]>[3] & { state: NodeJobState },
  ): Promise<boolean> {
    if (!(await this.o.jobs.updateNode(active.job.id, host, from, patch))) return false;
    const node = active.node(host);
    node.state = patch.state;
    if (patch.receivedAt !== undefined) node.receivedAt = patch.receivedAt;
    this.emit({ jobId: active.job.id, host, state: patch.state });
    return true;
  }

  private async finishNode(
    active: ActiveJob,
    host: string,
    from: readonly NodeJobState[],
    patch: Parameters<JobStore["updateNode"]>[3] & { state: NodeJobState },
  ): Promise<boolean> {
    return this.moveNode(active, host, from, { finishedAt: Date.now(), ...patch });
  }

  private async heartbeat(msg: Msg): Promise<void> {
    const host = nodeOfSubject(msg.subject);
    const beat = Heartbeat.safeParse(parseJson(msg.data));
    if (!host || !beat.success) return this.o.log(`ignored a malformed heartbeat on ${msg.subject}`);
    await this.o.nodes.recordHeartbeat({
      host,
      // jarvis's clock, not the node's: liveness must not depend on the node's clock being right.
      at: Date.now(),
      agentVersion: beat.data.version,
      groups: beat.data.groups,
      offlineAfterMs: beat.data.intervalS * 1000 * MISSED_HEARTBEATS,
    });
  }

  private async agentMessage(subject: string, data: Uint8Array): Promise<void> {
    const host = nodeOfSubject(subject);
    const kind = subject.split(".")[1];
    if (!host) return;
    if (kind === "facts") {
      const facts = FactsMessage.safeParse(parseJson(data));
      if (!facts.success) return this.o.log(`ignored malformed facts from ${host}`);
      await this.o.nodes.recordFacts({
        host,
        at: Date.now(),
        hash: facts.data.hash,
        groups: facts.data.groups,
        facts: facts.data.facts,
      });
      return;
    }
    if (kind !== "reply") return;
    const parsed = AgentReply.safeParse(parseJson(data));
    if (!parsed.success) return this.o.log(`ignored a malformed reply from ${host}`);
    await this.reply(host, parsed.data);
  }

  private async reply(host: string, r: AgentReply): Promise<void> {
    if (r.requestId === null)
      return this.o.log(`${host} refused an unreadable request: ${r.kind === "refusal" ? r.message : ""}`);
    const active = this.byRequest.get(r.requestId);
    // The host must be the one the request was for: a reply on another node's subject is not one.
    if (!active || !active.has(host) || active.node(host).requestId !== r.requestId) return;
    const job = active.job.id;
    switch (r.kind) {
      case "ack":
        await this.moveNode(active, host, ["queued"], { state: "received", receivedAt: Date.now() });
        return;
      case "running":
        await this.moveNode(active, host, ["queued", "received"], { state: "running" });
        return;
      case "result":
        await this.finishNode(active, host, ["queued", "received", "running"], {
          state: r.state,
          exitCode: r.exitCode,
          stdoutTail: r.stdoutTail,
          stderrTail: r.stderrTail,
          message: r.message,
        });
        break;
      case "refusal":
        this.o.log(`job ${job}: ${host} refused its request: ${r.reason}: ${r.message}`);
        await this.finishNode(active, host, ["queued", "received", "running"], {
          state: r.reason === "expired" ? "expired" : "failed",
          message: `refused (${r.reason}): ${r.message}`,
        });
        break;
    }
    await this.settle(active);
  }

  /** TTLs, nodes gone silent mid-job, and results that never came. */
  private async sweep(): Promise<void> {
    const now = Date.now();
    await this.o.nodes.markSilentOffline(now);
    const actives = [...this.active.values()];
    const holding = actives.flatMap((a) =>
      a.nodes.filter((n) => n.sent && (n.state === "received" || n.state === "running")),
    );
    const offline =
      holding.length === 0
        ? new Set<string>()
        : new Set((await this.o.nodes.list()).filter((n) => !n.online).map((n) => n.host));
    // Heartbeats can only say a node is silent; whether it is gone, its connection says.
    const silent = holding.filter((n) => offline.has(n.host)).map((n) => n.host);
    const connected = silent.length === 0 ? new Set<string>() : await this.o.bus.subscribedNodes(silent);
    const grace = this.o.resultGraceMs ?? 30_000;
    for (const active of actives) {
      const { ttlMs, timeoutMs } = active.job.options;
      for (const n of active.nodes) {
        if (!n.sent || isFinal(n.state)) continue;
        if (n.state === "queued" && n.sentAt !== null && now > n.sentAt + ttlMs) {
          if (n.streamSeq !== null) await this.o.bus.withdraw(n.streamSeq);
          await this.finishNode(active, n.host, ["queued"], {
            state: "expired",
            message: `the node did not take the request within its TTL (${Math.round(ttlMs / 1000)} s)`,
          });
        } else if (n.state !== "queued" && offline.has(n.host) && !connected.has(n.host)) {
          await this.finishNode(active, n.host, ["received", "running"], {
            state: "unreachable",
            message: "the node went offline while it had the request",
          });
        } else if (n.state !== "queued" && n.receivedAt !== null && now > n.receivedAt + timeoutMs + grace) {
          await this.finishNode(active, n.host, ["received", "running"], {
            state: "unreachable",
            message: "no result within the timeout",
          });
        }
      }
      await this.settle(active);
    }
  }
}

function parseJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(data));
  } catch {
    return undefined;
  }
}
