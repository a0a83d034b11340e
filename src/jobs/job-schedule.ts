/**
 * Which nodes of a job may be sent now, and which must be skipped: batches (`batch: N | N%`, a
 * batch starts when the one before it has finished), `concurrency` (nodes in flight) and
 * `max_failures`. Pure, over the job's node states, so it is tested without a bus.
 */
import { FAILED_STATES, isFinal } from "./job.js";
import type { BatchSize, JobOptions, NodeJobState } from "./job.js";

export interface ScheduledNode {
  host: string;
  state: NodeJobState;
  sent: boolean;
}

export interface ScheduleDecision {
  send: string[];
  /** Unsent nodes that will not run: max_failures was passed. */
  skip: string[];
}

export function batchSizeOf(batch: BatchSize | undefined, total: number): number {
  if (!batch) return Math.max(total, 1);
  if ("count" in batch) return Math.max(1, batch.count);
  return Math.max(1, Math.ceil((batch.percent / 100) * total));
}

/** `nodes` in job order. */
export function schedule(
  nodes: readonly ScheduledNode[],
  options: Pick<JobOptions, "batch" | "maxFailures" | "concurrency">,
): ScheduleDecision {
  const failures = nodes.filter((n) => FAILED_STATES.includes(n.state)).length;
  const unsent = nodes.filter((n) => !n.sent && n.state === "queued");
  if (options.maxFailures !== undefined && failures > options.maxFailures) {
    return { send: [], skip: unsent.map((n) => n.host) };
  }
  const size = batchSizeOf(options.batch, nodes.length);
  const firstOpen = nodes.findIndex((n) => !isFinal(n.state));
  if (firstOpen < 0) return { send: [], skip: [] };
  const currentBatch = Math.floor(firstOpen / size);
  const inFlight = nodes.filter((n) => n.sent && !isFinal(n.state)).length;
  const room = options.concurrency === undefined ? Infinity : Math.max(0, options.concurrency - inFlight);
  const send: string[] = [];
  nodes.forEach((n, position) => {
    if (send.length >= room || n.sent || n.state !== "queued") return;
    if (Math.floor(position / size) === currentBatch) send.push(n.host);
  });
  return { send, skip: [] };
}
