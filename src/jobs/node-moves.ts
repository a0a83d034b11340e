/**
 * How a node of a job moves, decided without the store or the bus: by an agent's reply, or by the
 * sweep (a TTL that ran out, a node that is gone, a result that never came). The controller
 * applies the moves, each fenced on its `from` states.
 */
import type { JobNodePatch } from "./job-store.js";
import type { JobOptions, NodeJobState } from "./job.js";
import { isFinal } from "./job.js";
import type { AgentReply } from "../agent/protocol.js";
import type { ActiveNode } from "./active-job.js";

export type NodeMove = JobNodePatch & { state: NodeJobState };

export interface Move {
  from: readonly NodeJobState[];
  patch: NodeMove;
}

/** How a reply moves its node, in order: from which states, to what. */
export function replyMoves(r: AgentReply): Move[] {
  const now = Date.now();
  const running = { from: ["queued", "received"], patch: { state: "running" } } as const;
  switch (r.kind) {
    case "ack":
      return [
        { from: ["queued"], patch: { state: "received", receivedAt: now } },
        ...(r.running ? [running] : []),
      ];
    case "running":
      return [running];
    case "result":
      return [
        {
          from: ["queued", "received", "running"],
          patch: {
            state: r.state,
            finishedAt: now,
            exitCode: r.exitCode,
            stdoutTail: r.stdoutTail,
            stderrTail: r.stderrTail,
            message: r.message,
          },
        },
      ];
    case "refusal":
      // The node took this request id before, from an earlier copy (jarvis published it again:
      // a replica that took the jobs over after the bus's duplicate window). That copy's own
      // replies say how it went; this one fails nothing.
      if (r.reason === "replayed") return [];
      return [
        {
          from: ["queued", "received", "running"],
          patch: {
            state: r.reason === "expired" ? "expired" : "failed",
            finishedAt: now,
            message: `refused (${r.reason}): ${r.message}`,
          },
        },
      ];
  }
}

/**
 * The sweep's moves for one job's nodes at `now`; `withdraw` is the stream sequence of a request
 * to take back out first (one its node never took). `gone`: nodes whose connection nats-server
 * was asked about and no longer has (see gone-nodes.ts).
 */
export function sweepMoves(
  nodes: readonly ActiveNode[],
  options: Pick<JobOptions, "ttlMs" | "timeoutMs">,
  gone: ReadonlySet<string>,
  now: number,
  resultGraceMs: number,
): (Move & { host: string; withdraw: number | null })[] {
  const moves: (Move & { host: string; withdraw: number | null })[] = [];
  for (const n of nodes) {
    if (!n.sent || isFinal(n.state)) continue;
    if (n.state === "queued" && n.sentAt !== null && now > n.sentAt + options.ttlMs) {
      moves.push({
        host: n.host,
        withdraw: n.streamSeq,
        from: ["queued"],
        patch: {
          state: "expired",
          finishedAt: now,
          message: `the node did not take the request within its TTL (${Math.round(options.ttlMs / 1000)} s)`,
        },
      });
    } else if (n.state !== "queued" && gone.has(n.host)) {
      moves.push({
        host: n.host,
        withdraw: null,
        from: ["received", "running"],
        patch: {
          state: "unreachable",
          finishedAt: now,
          message: "the node went offline while it had the request",
        },
      });
    } else if (
      n.state !== "queued" &&
      n.receivedAt !== null &&
      now > n.receivedAt + options.timeoutMs + resultGraceMs
    ) {
      moves.push({
        host: n.host,
        withdraw: null,
        from: ["received", "running"],
        patch: { state: "unreachable", finishedAt: now, message: "no result within the timeout" },
      });
    }
  }
  return moves;
}
