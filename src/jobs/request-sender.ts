/**
 * jarvis's signed requests onto the bus: a job's nodes as the schedule lets them go (recorded as
 * sent in the store once the bus has them), and the `cancel` sent to a node that has a request.
 */
import { randomUUID } from "node:crypto";
import type { KeyObject } from "node:crypto";
import type { JobRecord } from "./job.js";
import type { JobRequest, Operation } from "../agent/protocol.js";
import { signRequest } from "../agent/signing.js";
import type { AgentBus } from "./agent-bus.js";
import type { JobNodeChange, JobStore } from "./job-store.js";
import type { ActiveJob } from "./active-job.js";

export class RequestSender {
  constructor(
    private readonly bus: AgentBus,
    private readonly jobs: JobStore,
    private readonly signingKey: KeyObject,
    private readonly log: (line: string) => void,
  ) {}

  /**
   * Publish to many nodes at once (nats-server takes a pipeline of publishes in its stride), then
   * record what was sent in one transaction. What the bus does not take now (a timeout on a busy
   * server) stays unsent and is sent again at the next sweep: the request id is the JetStream
   * message id, so a publish that did land is not stored twice.
   */
  async sendAll(active: ActiveJob, hosts: readonly string[]): Promise<void> {
    if (hosts.length === 0) return;
    try {
      await this.bus.ensureNodeConsumers(hosts);
    } catch (err) {
      this.log(
        `job ${active.job.id}: cannot make the nodes' consumers (${(err as Error).message}); trying again`,
      );
      return;
    }
    const now = Date.now();
    const sent = await Promise.all(hosts.map((host) => this.send(active, host, now)));
    await this.jobs.updateNodes(sent.filter((c): c is JobNodeChange => c !== undefined));
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
      const seq = await this.bus.publishRequest(host, request.id, signRequest(request, this.signingKey));
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
      this.log(`job ${active.job.id}: sending to ${host} failed (${(err as Error).message}); trying again`);
      return undefined;
    }
  }

  async sendControl(host: string, operation: Operation, job: JobRecord): Promise<void> {
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
    await this.bus.publishRequest(host, id, signRequest(request, this.signingKey));
  }
}
