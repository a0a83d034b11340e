import { describe, expect, it } from "vitest";
import { formatRunEvent, placeOfOrigin, originOfPlace } from "../../../src/bot/progress.js";
import type { RunEvent, RunSummary } from "../../../src/pipeline/run-events.js";

const run: RunSummary = {
  id: "r1",
  host: "loki",
  pipeline: "deploy",
  state: "running",
  totalSteps: 19,
  step: { phase: "main", index: 4, total: 19, name: "dns:update_host" },
  requestedBy: "irc:alice",
  origin: "irc:#ops",
  group: null,
  startedAt: 1000,
  finishedAt: null,
  error: null,
};
const head = { seq: 1, at: 1000, runId: "r1", host: "loki", origin: "irc:#ops" };

describe("formatRunEvent", () => {
  it("shows one line per stage, 1-based", () => {
    const step = { phase: "main" as const, index: 4, total: 19, name: "dns:update_host" };
    expect(formatRunEvent({ ...head, type: "step-started", step, attempt: 1 })).toBe(
      "loki: 5/19 dns:update_host",
    );
    expect(
      formatRunEvent({ ...head, type: "step-log", step, attempt: 1, stream: "stderr", line: "x" }),
    ).toBeUndefined();
  });

  it("shows an on_failure step as such, never past the pipeline's end", () => {
    const step = { phase: "on_failure" as const, index: 0, total: 1, name: "monitoring:enable" };
    expect(formatRunEvent({ ...head, type: "step-started", step, attempt: 1 })).toBe(
      "loki: on_failure 1/1 monitoring:enable",
    );
  });

  it("on failure names the stage, the error's last line and the inspect commands", () => {
    const failed: RunEvent = {
      ...head,
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
    expect(formatRunEvent(failed)).toBe(
      "loki: deploy FAILED at 5/19 dns:update_host: nsupdate: REFUSED by 127.0.0.1 [E_STEP_EXIT] — inspect: jarvis: clipboard loki | jarvis: log loki | jarvis: retry loki",
    );
  });

  it("says when a run succeeded and how long it took", () => {
    expect(
      formatRunEvent({
        ...head,
        type: "run-finished",
        run: { ...run, state: "succeeded", finishedAt: 66_000 },
      }),
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
