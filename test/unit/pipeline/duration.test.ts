import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration, MAX_DURATION_MS } from "../../../src/pipeline/duration.js";
import { PipelineError } from "../../../src/errors.js";

describe("parseDuration", () => {
  it.each([
    [30, 30_000],
    [0.5, 500],
    [0, 0],
    ["500ms", 500],
    ["30s", 30_000],
    ["5m", 300_000],
    ["1h", 3_600_000],
    ["1m30s", 90_000],
    ["1.5s", 1500],
    ["45", 45_000],
    [" 2m ", 120_000],
  ])("reads %j as %d ms", (value, ms) => {
    expect(parseDuration(value, "p.yml:3: timeout")).toBe(ms);
  });

  it.each([
    ["5 minutes"],
    ["soon"],
    ["-1s"],
    ["1d"],
    ["s"],
    [""],
    ["1m 30s"],
    [-5],
    [Number.NaN],
    [true],
    [null],
    [[1]],
    [{ s: 1 }],
  ])("refuses %j naming where and how to fix it", (value) => {
    let caught: unknown;
    try {
      parseDuration(value, "p.yml:7: steps item 2 timeout");
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(PipelineError);
    const err = caught as PipelineError;
    expect(err.code).toBe("E_PIPELINE_DURATION");
    expect(err.message.startsWith("p.yml:7: steps item 2 timeout: ")).toBe(true);
    expect(err.message).toContain('"30s"');
  });

  it("refuses durations past the limit, which would overflow Node's timers", () => {
    expect(parseDuration("168h", "w")).toBe(MAX_DURATION_MS);
    expect(() => parseDuration("169h", "p.yml:2: defaults timeout")).toThrow(
      /p\.yml:2: defaults timeout: '169h' is longer than the limit/,
    );
    expect(() => parseDuration(1e12, "w")).toThrow(PipelineError);
  });

  it("formats for people", () => {
    expect(formatDuration(500)).toBe("500ms");
    expect(formatDuration(1500)).toBe("1.5s");
    expect(formatDuration(90_000)).toBe("1m30s");
    expect(formatDuration(3_600_000)).toBe("1h");
  });
});
