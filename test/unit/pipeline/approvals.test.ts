import { describe, expect, it } from "vitest";
import { checkVoter, planApplyApproval, requiredApproval } from "../../../src/pipeline/approvals.js";
import { DEFAULT_APPROVAL_EXPIRY_MS, approvalSchema } from "../../../src/pipeline/approval-rule.js";
import { check } from "../../../src/schema/schema-problem.js";
import type { RunRecord } from "../../../src/store/run-store.js";

const rule = (extra: Record<string, unknown> = {}) => {
  const result = check(approvalSchema, { approvers: "role:leads", count: 2, expires: "30m", ...extra });
  if (!result.ok) throw new Error(result.problem.message);
  return result.data;
};

function awaiting(extra: Partial<RunRecord> = {}): RunRecord {
  return {
    id: "r1",
    host: "loki",
    pipeline: "redeploy",
    pipelineJson: "{}",
    state: "awaiting_approval",
    stepIndex: -1,
    stepName: null,
    totalSteps: 3,
    requestedBy: "irc:alice",
    origin: "irc:#ops",
    source: "cn=loki",
    createdAt: 0,
    startedAt: null,
    finishedAt: null,
    error: null,
    leaseOwner: null,
    leaseExpiresAt: null,
    cancelRequested: false,
    group: null,
    after: [],
    forced: false,
    plan: false,
    applyApproval: null,
    planRun: null,
    approval: { role: "leads", count: 2, requesterPerson: "alice", notify: [], expiresAt: 1 },
    ...extra,
  };
}

describe("approval rules", () => {
  it("reads approval: as written, and refuses a bad role, count, duration or condition", () => {
    expect(rule({ when: "instance.production", notify: ["irc:#leads"] })).toEqual({
      role: "leads",
      count: 2,
      expiresMs: 30 * 60_000,
      when: "instance.production",
      notify: ["irc:#leads"],
    });
    for (const [bad, message] of [
      [{ approvers: "leads" }, /role:<name>/],
      [{ count: 0 }, /count must be a whole number/],
      [{ expires: "soon" }, /not a duration/],
      [{ when: "instance.(" }, /when/],
      [{ notify: ["#leads"] }, /notify lists places/],
      [{ approver: "role:x" }, /approver/],
    ] as const) {
      const result = check(approvalSchema, { ...{ approvers: "role:leads" }, ...bad });
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.problem.message).toMatch(message);
    }
  });

  it("applies the first rule whose condition holds on the clipboard", () => {
    const prod = rule({ when: "instance.production", count: 1 });
    const always = rule();
    expect(requiredApproval([undefined, prod], { instance: { production: false } }, "alice")).toBeUndefined();
    expect(requiredApproval([prod, always], { instance: { production: true } }, "alice")).toMatchObject({
      count: 1,
      requesterPerson: "alice",
      expiresInMs: 30 * 60_000,
    });
    expect(requiredApproval([prod, always], { instance: {} }, "alice")).toMatchObject({ count: 2 });
  });

  it("refuses self-approval and voters without the role, but lets the requester withdraw", () => {
    const run = awaiting();
    expect(() =>
      checkVoter(run, { identity: "xmpp:alice@x", person: "alice", roles: ["leads"] }, "approve"),
    ).toThrow(expect.objectContaining({ code: "E_APPROVAL_SELF" }));
    expect(() =>
      checkVoter(run, { identity: "irc:eve", person: "eve", roles: ["operator"] }, "approve"),
    ).toThrow(
      expect.objectContaining({ code: "E_APPROVAL_ROLE", message: expect.stringContaining("role leads") }),
    );
    expect(() =>
      checkVoter(run, { identity: "irc:bob", person: "bob", roles: ["leads"] }, "approve"),
    ).not.toThrow();
    expect(() =>
      checkVoter(run, { identity: "irc:alice", person: "alice", roles: ["leads"] }, "deny"),
    ).not.toThrow();
    expect(() =>
      checkVoter(
        awaiting({ state: "queued" }),
        { identity: "irc:bob", person: "bob", roles: ["leads"] },
        "approve",
      ),
    ).toThrow(expect.objectContaining({ code: "E_RUN_STATE" }));
  });

  it("a plan-then-apply no rule names waits for one approval from anyone the ACL lets approve", () => {
    const leads = rule();
    expect(planApplyApproval([undefined, undefined], {}, "alice")).toEqual({
      role: null,
      count: 1,
      requesterPerson: "alice",
      notify: [],
      expiresInMs: DEFAULT_APPROVAL_EXPIRY_MS,
    });
    expect(planApplyApproval([undefined, leads], {}, "alice")).toMatchObject({ role: "leads", count: 2 });
    const run = awaiting({
      approval: { role: null, count: 1, requesterPerson: "alice", notify: [], expiresAt: 1 },
    });
    expect(() =>
      checkVoter(run, { identity: "irc:bob", person: "bob", roles: ["leads"], aclAllows: false }, "approve"),
    ).toThrow(expect.objectContaining({ code: "E_APPROVAL_ROLE", message: expect.stringContaining("loki") }));
    expect(() =>
      checkVoter(run, { identity: "irc:bob", person: "bob", roles: [], aclAllows: true }, "approve"),
    ).not.toThrow();
    expect(() =>
      checkVoter(run, { identity: "xmpp:alice@x", person: "alice", roles: [], aclAllows: true }, "approve"),
    ).toThrow(expect.objectContaining({ code: "E_APPROVAL_SELF" }));
  });
});
