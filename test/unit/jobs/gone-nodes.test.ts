import { describe, expect, it } from "vitest";
import { goneNodes } from "../../../src/jobs/gone-nodes.js";

describe("goneNodes", () => {
  it("is the silent nodes nats-server has no subscription for", () => {
    expect(goneNodes(["a", "b", "c"], new Set(["b"]))).toEqual(new Set(["a", "c"]));
  });

  it("never holds a node whose connection was not asked about, silent or not", () => {
    // emu-7 took its request while the sweep was asking about emu-3 (it was queued then): without
    // an answer for it, it is not gone, however late its heartbeats are.
    const gone = goneNodes(["emu-3"], new Set());
    expect(gone.has("emu-3")).toBe(true);
    expect(gone.has("emu-7")).toBe(false);
  });
});
