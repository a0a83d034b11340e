/**
 * A running job as the controller holds it between replies: its nodes' states in memory (the
 * store stays the record; every change there is fenced first), and a lock so two replies never
 * schedule the same job at once.
 */
import type { JobNodeRecord, JobRecord, NodeJobState } from "./job.js";

export interface ActiveNode {
  host: string;
  requestId: string;
  state: NodeJobState;
  sent: boolean;
  sentAt: number | null;
  streamSeq: number | null;
  receivedAt: number | null;
}

export class ActiveJob {
  readonly nodes: ActiveNode[];
  cancelled: boolean;
  /** A settle is queued and has not started: replies that come meanwhile need no other. */
  settleQueued = false;
  ended = false;
  private readonly byHost = new Map<string, ActiveNode>();
  private queue: Promise<void> = Promise.resolve();

  constructor(
    readonly job: JobRecord,
    records: JobNodeRecord[],
  ) {
    this.cancelled = job.state === "cancelled";
    this.nodes = records.map((r) => ({
      host: r.host,
      requestId: r.requestId,
      state: r.state,
      sent: r.sentAt !== null,
      sentAt: r.sentAt,
      streamSeq: r.streamSeq,
      receivedAt: r.receivedAt,
    }));
    for (const n of this.nodes) this.byHost.set(n.host, n);
  }

  node(host: string): ActiveNode {
    const n = this.byHost.get(host);
    if (!n) throw new Error(`job ${this.job.id} has no node ${host}`);
    return n;
  }

  has(host: string): boolean {
    return this.byHost.has(host);
  }

  /** Run `fn` after every earlier call on this job has finished. */
  exclusive(fn: () => Promise<void>): Promise<void> {
    const next = this.queue.then(fn);
    // The caller sees a failure through `next`; the queue itself only orders the calls.
    this.queue = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
  }
}
