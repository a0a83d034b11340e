import { describe, expect, it } from "vitest";
import { batchSizeOf, schedule } from "../../../src/jobs/job-schedule.js";
import type { ScheduledNode } from "../../../src/jobs/job-schedule.js";
import type { NodeJobState } from "../../../src/jobs/job.js";

const nodes = (...states: [NodeJobState, boolean][]): ScheduledNode[] =>
  states.map(([state, sent], i) => ({ host: `n${i}`, state, sent }));

describe("schedule", () => {
  it("sends the first batch only, then the next once it has finished", () => {
    expect(
      schedule(nodes(["queued", false], ["queued", false], ["queued", false]), { batch: { count: 2 } }).send,
    ).toEqual(["n0", "n1"]);
    expect(
      schedule(nodes(["ok", true], ["running", true], ["queued", false]), { batch: { count: 2 } }).send,
    ).toEqual([]);
    expect(
      schedule(nodes(["ok", true], ["failed", true], ["queued", false]), { batch: { count: 2 } }).send,
    ).toEqual(["n2"]);
  });

  it("keeps at most `concurrency` nodes in flight", () => {
    expect(
      schedule(nodes(["running", true], ["queued", false], ["queued", false]), { concurrency: 2 }).send,
    ).toEqual(["n1"]);
  });

  it("skips the unsent nodes once max_failures is passed", () => {
    expect(
      schedule(nodes(["failed", true], ["running", true], ["queued", false]), { maxFailures: 0 }),
    ).toEqual({ send: [], skip: ["n2"] });
  });

  it("sizes percent batches up, never below one", () => {
    expect(batchSizeOf({ percent: 25 }, 10)).toBe(3);
    expect(batchSizeOf({ percent: 1 }, 10)).toBe(1);
    expect(batchSizeOf(undefined, 7)).toBe(7);
  });
});
