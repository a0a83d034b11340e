import { describe, expect, it } from "vitest";
import { reportsOf } from "../../../src/pipeline/step-execution.js";
import type { StepReport } from "../../../src/protocol.js";

async function* stream(reports: StepReport[]): AsyncGenerator<StepReport> {
  for (const report of reports) yield report;
}

describe("attempt fencing", () => {
  it("passes on only the reports of the current attempt: a late outcome of an earlier one is ignored", async () => {
    const late: StepReport = {
      type: "outcome",
      attempt: 1,
      outcome: { kind: "ok", clipboardYaml: "stale: true\n", durationMs: 5 },
    };
    const current: StepReport[] = [
      { type: "log", attempt: 2, line: "working" },
      { type: "outcome", attempt: 2, outcome: { kind: "ok", durationMs: 7 } },
    ];
    const seen: StepReport[] = [];
    for await (const report of reportsOf(
      stream([{ type: "log", attempt: 1, line: "old" }, late, ...current]),
      2,
    ))
      seen.push(report);
    expect(seen).toEqual(current);
  });
});
