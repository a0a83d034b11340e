import { describe, expect, it } from "vitest";
import {
  actionFor,
  isPlaceholder,
  planCounts,
  planEntries,
  withPlaceholders,
  withPlanEntries,
  withUnknown,
} from "../../../src/step-sdk/plan.js";
import { planLines, planSummaryLine, planView } from "../../../src/pipeline/plan-view.js";
import { typeChatCommand } from "../../../src/commands/typed-command.js";
import { parseCommand } from "../../../src/commands/command-parser.js";
import { formatRunEvent } from "../../../src/bot/progress.js";
import type { RunEvent } from "../../../src/protocol.js";

describe("plan entries and placeholders on the clipboard", () => {
  it("appends entries and marks those after a step that could not plan", () => {
    let c: Record<string, unknown> = { instance: { hostname: "loki" } };
    c = withPlanEntries(c, [{ step: "a:b", action: "create", target: "t", before: null, after: 1 }]);
    c = withUnknown(c, "ext:x", "cannot");
    c = withPlanEntries(c, [{ step: "c:d", action: "update", target: "u", before: 1, after: 2 }]);
    const entries = planEntries(c);
    expect(entries.map((e) => [e.step, e.action, e.after_unknown])).toEqual([
      ["a:b", "create", undefined],
      ["ext:x", "unknown", undefined],
      ["c:d", "update", ["ext:x"]],
    ]);
    expect(planCounts(entries)).toEqual({ create: 1, update: 1, delete: 0, none: 0, unknown: 1 });
  });

  it("knows a placeholder by where it is, not by how it looks", () => {
    const c = withPlaceholders(
      { local: { label: "loki" } },
      { "local.ipv4": "<ipv4 of loki after local:deploy>" },
    );
    expect(c.local).toEqual({ label: "loki", ipv4: "<ipv4 of loki after local:deploy>" });
    expect(isPlaceholder(c, "local.ipv4")).toBe(true);
    // The same text elsewhere, or a real value later written over it, is not a placeholder.
    expect(isPlaceholder({ ...c, other: "<ipv4 of loki after local:deploy>" }, "other")).toBe(false);
    expect(isPlaceholder({ ...c, local: { ipv4: "127.0.0.1" } }, "local.ipv4")).toBe(false);
  });

  it("derives the action from before and after", () => {
    expect(actionFor([], ["a"])).toBe("create");
    expect(actionFor(["a"], [])).toBe("delete");
    expect(actionFor(["a"], ["b"])).toBe("update");
    expect(actionFor(["a"], ["a"])).toBe("none");
    expect(actionFor(null, null)).toBe("none");
  });
});

describe("plan in the fronts", () => {
  const clipboard = withUnknown(
    withPlanEntries({}, [
      {
        step: "local:deploy",
        action: "create",
        target: "local node loki",
        before: null,
        after: { label: "loki" },
      },
      { step: "dns:update_host", action: "update", target: "loki. A", before: ["x"], after: ["y"] },
      { step: "ssh:wait", action: "none", target: "ssh on loki", before: null, after: null },
    ]),
    "ext:x",
    "cannot",
  );

  it("chat's summary counts the actions and points at the clipboard", () => {
    expect(planSummaryLine("loki", "r1", planView(clipboard))).toBe(
      "loki: plan: 1 create, 1 update, 0 delete, 1 unknown (ext:x); details: jarvis clipboard r1",
    );
  });

  it("the CLI prints every entry, with before and after where something changes", () => {
    const lines = planLines(planView(clipboard));
    expect(lines[0]).toBe("create  local node loki  [local:deploy]");
    expect(lines).toContain('          before: ["x"]');
    expect(lines).toContain("none    ssh on loki  [ssh:wait]");
  });

  it("chat 'plan deploy cn=loki' and 'plan redeploy loki' type as plan commands", () => {
    const parsed = parseCommand("plan deploy cn=loki");
    expect(parsed.kind).toBe("command");
    if (parsed.kind !== "command") return;
    expect(typeChatCommand(parsed.command.verb, parsed.command.args)).toEqual({
      verb: "plan",
      pipeline: "deploy",
      source: "cn=loki",
    });
    expect(typeChatCommand("plan", ["redeploy", "loki"])).toEqual({
      verb: "plan",
      pipeline: "redeploy",
      target: "loki",
    });
    expect(() => typeChatCommand("plan", ["retry", "loki"])).toThrow(/cannot be planned/);
  });

  it("a finished plan run says its plan is ready, not that the pipeline succeeded", () => {
    const event = {
      type: "run-finished",
      seq: 1,
      at: 0,
      runId: "r1",
      host: "loki",
      origin: "irc:#ops",
      run: {
        id: "r1",
        host: "loki",
        pipeline: "deploy",
        state: "succeeded",
        totalSteps: 3,
        step: null,
        requestedBy: "irc:alice",
        origin: "irc:#ops",
        group: null,
        startedAt: null,
        finishedAt: null,
        error: null,
        plan: true,
      },
    } satisfies RunEvent;
    expect(formatRunEvent(event)).toBe("loki: plan of deploy ready (run r1)");
  });
});
