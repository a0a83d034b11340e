import { describe, expect, it } from "vitest";
import { StepOutputFollower } from "../../../src/bot/step-output-follower.js";
import type { RunEvent } from "../../../src/pipeline/run-events.js";
import type { RunSummary } from "../../../src/protocol.js";

const ops = { room: "#ops", direct: false };
const step = { phase: "main" as const, index: 0, total: 1, name: "chatty:lines" };

function log(runId: string, host: string, line: string, seq: number): RunEvent {
  return {
    type: "step-log",
    step,
    attempt: 1,
    stream: "stderr",
    line,
    seq,
    at: 0,
    runId,
    host,
    origin: "irc:#x",
  };
}

function finished(runId: string, host: string, seq: number): RunEvent {
  const run = { id: runId, host, state: "succeeded" } as RunSummary;
  return { type: "run-finished", run, seq, at: 0, runId, host, origin: "irc:#x" };
}

describe("StepOutputFollower", () => {
  it("shows a followed host's next run, throttled, and stops at its end with the summary", () => {
    const said: string[] = [];
    let now = 0;
    const follower = new StepOutputFollower(
      () => ({ lines: 2, intervalMs: 1000 }),
      (network, place, line) => said.push(`${network} ${place.room}: ${line}`),
      undefined,
      () => now,
    );
    follower.follow("irc", ops, { kind: "host", host: "thor" }, undefined);
    follower.onEvent(log("r2", "odin", "not followed", 1));
    for (let i = 1; i <= 5; i++) follower.onEvent(log("r1", "thor", `line ${i}`, 1 + i));
    now = 1000;
    follower.tick();
    follower.onEvent(log("r1", "thor", "line 6", 7));
    follower.onEvent(finished("r1", "thor", 8));
    follower.onEvent(log("r1", "thor", "after the end", 9));
    expect(said).toEqual([
      "irc #ops: thor| line 1",
      "irc #ops: thor| line 2",
      "irc #ops: ... 3 lines",
      "irc #ops: thor| line 6",
      "irc #ops: thor: run r1 ended; no longer following it",
    ]);
  });

  it("stops following on unfollow, for one target or all of a room", () => {
    const said: string[] = [];
    const follower = new StepOutputFollower(
      () => ({ lines: 10, intervalMs: 1000 }),
      (_n, _p, line) => said.push(line),
      undefined,
      () => 0,
    );
    follower.follow("irc", ops, { kind: "run", runId: "r1", host: "thor" }, "r1");
    follower.follow("irc", ops, { kind: "host", host: "odin" }, undefined);
    expect(follower.unfollow("irc", ops, { kind: "host", host: "odin" })).toBe(1);
    follower.onEvent(log("r2", "odin", "odin line", 1));
    follower.onEvent(log("r1", "thor", "thor line", 2));
    expect(follower.unfollow("irc", ops)).toBe(1);
    follower.onEvent(log("r1", "thor", "thor again", 3));
    expect(said).toEqual(["thor| thor line"]);
  });

  it("says when a network's follows change, and lists them to carry over to another replica", () => {
    const changes: string[] = [];
    const follower = new StepOutputFollower(
      () => ({ lines: 10, intervalMs: 1000 }),
      () => undefined,
      (network) => changes.push(network),
      () => 0,
    );
    follower.follow("irc", ops, { kind: "host", host: "thor" }, undefined);
    follower.follow("xmpp", ops, { kind: "run", runId: "r9", host: "odin" }, "r9");
    expect(follower.followsOf("irc")).toEqual([{ place: ops, target: { kind: "host", host: "thor" } }]);
    // The followed host's run becomes known with its first line: carried with it.
    follower.onEvent(log("r1", "thor", "line", 1));
    expect(follower.followsOf("irc")).toEqual([
      { place: ops, target: { kind: "host", host: "thor" }, runId: "r1" },
    ]);
    follower.onEvent(finished("r1", "thor", 2));
    expect(follower.followsOf("irc")).toEqual([]);
    expect(follower.unfollow("xmpp", ops)).toBe(1);
    expect(changes).toEqual(["irc", "xmpp", "irc", "irc", "xmpp"]);
  });
});
