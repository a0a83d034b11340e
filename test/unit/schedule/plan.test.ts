import { describe, expect, it } from "vitest";
import { nextOccurrence, parseAt, parseCron } from "../../../src/schedule/timing.js";
import { planDue } from "../../../src/schedule/plan.js";

const NOW = Date.parse("2026-12-01T12:00:00Z");

describe("schedule timing", () => {
  it("reads at times with a zone, or in a timezone, and refuses the past and zoneless times", () => {
    expect(parseAt("2026-12-24T02:00Z", null, NOW)).toEqual({
      kind: "at",
      at: Date.parse("2026-12-24T02:00:00Z"),
    });
    expect(parseAt("2026-12-24T02:00:00", "Europe/Berlin", NOW)).toEqual({
      kind: "at",
      at: Date.parse("2026-12-24T01:00:00Z"),
    });
    expect(() => parseAt("2026-12-24T02:00", null, NOW)).toThrow(/has no zone; add Z/);
    expect(() => parseAt("2020-01-01T00:00Z", null, NOW)).toThrow(/in the past.*give a future time/);
    expect(() => parseAt("tomorrow", null, NOW)).toThrow(/not a time jarvis reads.*2026-12-24T02:00Z/);
    expect(() => parseAt("2026-12-24T02:00Z", "Mars/Olympus", NOW)).toThrow(
      /timezone 'Mars\/Olympus' is not an IANA timezone/,
    );
  });

  it("checks cron patterns and computes their occurrences in a timezone", () => {
    const weekly = parseCron("0 3 * * 0", "Europe/Berlin", NOW);
    // Sunday 2026-12-06 03:00 in Berlin is 02:00 UTC.
    expect(nextOccurrence(weekly, NOW)).toBe(Date.parse("2026-12-06T02:00:00Z"));
    expect(() => parseCron("61 * * * *", null, NOW)).toThrow(
      /cron '61 \* \* \* \*' is not valid.*e\.g\. "0 3 \* \* 0"/,
    );
    expect(() => parseCron("0 3 * *", null, NOW)).toThrow(/E_SCHEDULE_CRON|not valid/);
  });
});

describe("planning a due schedule", () => {
  const hourly = { kind: "cron" as const, cron: "0 * * * *", timezone: null };
  it("runs an occurrence on time, and moves on to the next", () => {
    const at = Date.parse("2026-12-01T12:00:00Z");
    expect(planDue({ timing: hourly, misfire: "skip", nextAt: at }, at + 5_000)).toEqual({
      at,
      late: false,
      missedBefore: 0,
      action: "run",
      nextAt: at + 3_600_000,
    });
  });

  it("folds occurrences missed while down into one: skipped, or run once, per misfire", () => {
    const first = Date.parse("2026-12-01T08:00:00Z");
    const now = Date.parse("2026-12-01T12:30:00Z");
    const newest = Date.parse("2026-12-01T12:00:00Z");
    expect(planDue({ timing: hourly, misfire: "skip", nextAt: first }, now)).toEqual({
      at: newest,
      late: true,
      missedBefore: 4,
      action: "skip",
      nextAt: Date.parse("2026-12-01T13:00:00Z"),
    });
    expect(planDue({ timing: hourly, misfire: "once", nextAt: first }, now)).toMatchObject({
      at: newest,
      late: true,
      action: "run",
    });
    const at = { kind: "at" as const, at: first };
    expect(planDue({ timing: at, misfire: "skip", nextAt: first }, now)).toEqual({
      at: first,
      late: true,
      missedBefore: 0,
      action: "skip",
      nextAt: null,
    });
    expect(planDue({ timing: at, misfire: "skip", nextAt: first }, first - 1)).toBeUndefined();
  });
});
