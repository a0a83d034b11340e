import { describe, expect, it } from "vitest";
import { replyMoves, sweepMoves } from "../../../src/jobs/node-moves.js";
import type { ActiveNode } from "../../../src/jobs/active-job.js";

const node = (host: string, patch: Partial<ActiveNode>): ActiveNode => ({
  host,
  requestId: `r-${host}`,
  state: "queued",
  sent: true,
  sentAt: 1000,
  streamSeq: 7,
  receivedAt: null,
  ...patch,
});

describe("replyMoves", () => {
  it("moves a node received then running on an ACK that says it started, received only on an older agent's", () => {
    expect(
      replyMoves({ kind: "ack", requestId: "r", at: 1, running: true }).map((m) => m.patch.state),
    ).toEqual(["received", "running"]);
    expect(replyMoves({ kind: "ack", requestId: "r", at: 1 }).map((m) => m.patch.state)).toEqual([
      "received",
    ]);
    expect(replyMoves({ kind: "running", requestId: "r", at: 1 })[0]!.from).toEqual(["queued", "received"]);
  });

  it("fails a node its agent refused, but not for a second copy of a request it already took", () => {
    const refusal = (reason: "forged" | "replayed") =>
      replyMoves({ kind: "refusal", requestId: "r", at: 1, reason, message: "no" });
    expect(refusal("forged").map((m) => m.patch.state)).toEqual(["failed"]);
    expect(refusal("replayed")).toEqual([]);
  });
});

describe("sweepMoves", () => {
  const options = { ttlMs: 10_000, timeoutMs: 5000 };

  it("expires a request its node did not take within the TTL, and takes it back out of the stream", () => {
    const [move] = sweepMoves([node("a", {})], options, new Set(), 11_001, 1000);
    expect(move).toMatchObject({ host: "a", withdraw: 7, from: ["queued"], patch: { state: "expired" } });
  });

  it("calls a node unreachable only when it is gone or its result is past the timeout and grace", () => {
    const nodes = [
      node("gone", { state: "running", receivedAt: 2000 }),
      // Silent, maybe, but not among the gone: nats-server was not asked about it, or has it.
      node("late", { state: "received", receivedAt: 2000 }),
      node("overdue", { state: "running", receivedAt: 1000 }),
    ];
    const moves = sweepMoves(nodes, options, new Set(["gone"]), 7500, 1000);
    expect(moves.map((m) => [m.host, m.patch.state, m.patch.message])).toEqual([
      ["gone", "unreachable", "the node went offline while it had the request"],
      ["overdue", "unreachable", "no result within the timeout"],
    ]);
  });
});
