import { describe, expect, it } from "vitest";
import { StageTracker, formatRunEvent, placeOfOrigin, originOfPlace } from "../../../src/bot/progress.js";
import type { RunEvent } from "../../../src/pipeline/run-events.js";
import type { RunRecord } from "../../../src/store/run-store.js";

const run: RunRecord = {
  id: "r1",
  host: "loki",
  pipeline: "deploy",
  pipelineJson: "{}",
  state: "running",
  stepIndex: 4,
  totalSteps: 19,
  requestedBy: "irc:alice",
  origin: "irc:#ops",
  source: "examples/loki.yml",
  createdAt: 1000,
  startedAt: 1000,
  finishedAt: null,
  error: null,
  leaseOwner: null,
  leaseExpiresAt: null,
  cancelRequested: false,
  group: null,
  after: [],
  forced: false,
};

describe("formatRunEvent", () => {
  it("shows one line per stage, 1-based", () => {
    const e: RunEvent = {
      type: "step-started",
      run,
      step: { index: 4, total: 19, name: "dns:update_host" },
      attempt: 1,
    };
    expect(formatRunEvent(e, undefined)).toBe("loki: 5/19 dns:update_host");
    expect(formatRunEvent({ type: "step-log", run, step: e.step, line: "x" }, undefined)).toBeUndefined();
  });

  it("on failure names the stage, the error's last line and the inspect commands", () => {
    const tracker = new StageTracker();
    tracker.observe({
      type: "step-started",
      run,
      step: { index: 4, total: 19, name: "dns:update_host" },
      attempt: 1,
    });
    // An on_failure step does not move where the run stopped.
    tracker.observe({
      type: "step-started",
      run,
      step: { index: 19, total: 19, name: "on_failure monitoring:enable" },
      attempt: 1,
    });
    const failed: RunEvent = {
      type: "run-finished",
      run: {
        ...run,
        state: "failed",
        finishedAt: 5000,
        error: {
          name: "StepError",
          code: "E_STEP_EXIT",
          message: "starting\nnsupdate: REFUSED by 127.0.0.1",
        },
      },
    };
    const line = formatRunEvent(failed, tracker.observe(failed));
    expect(line).toBe(
      "loki: deploy FAILED at 5/19 dns:update_host: nsupdate: REFUSED by 127.0.0.1 — inspect: jarvis: clipboard loki | jarvis: log loki | jarvis: retry loki",
    );
  });

  it("says when a run succeeded and how long it took", () => {
    expect(
      formatRunEvent(
        { type: "run-finished", run: { ...run, state: "succeeded", finishedAt: 66_000 } },
        undefined,
      ),
    ).toBe("loki: deploy succeeded in 1m05s (run r1)");
  });
});

describe("origins", () => {
  it("round-trips rooms and direct chats", () => {
    expect(placeOfOrigin(originOfPlace("irc", { room: "#ops", direct: false }))).toEqual({
      network: "irc",
      place: { room: "#ops", direct: false },
    });
    expect(placeOfOrigin(originOfPlace("matrix", { room: "!a:b", direct: true }))).toEqual({
      network: "matrix",
      place: { room: "!a:b", direct: true },
    });
    expect(placeOfOrigin("cli")).toBeUndefined();
  });
});
