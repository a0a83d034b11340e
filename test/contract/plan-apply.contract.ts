/**
 * The plan-then-apply part of the RunStore contract (registered by run-store.contract.ts): a plan
 * run that carries the approval its apply will need hands its host, in one fenced write, to an
 * apply run awaiting that approval; a second process sees it, and approving it queues it.
 */
import { expect, it } from "vitest";
import type { NewRun, PendingApproval, RunStore } from "../../src/store/run-store.js";

const LEASE = 60_000;
const DESIGN = "instance: {hostname: loki}\n";

/** One approval from anyone the ACL lets approve (role null), as a plan-then-apply asks by default. */
const anyApprover: PendingApproval = {
  role: null,
  count: 1,
  requesterPerson: "alice",
  notify: [],
  expiresInMs: LEASE,
};

function planRun(extra: Partial<NewRun> = {}): NewRun {
  return {
    host: "loki",
    pipeline: "deploy",
    pipelineJson: '{"name":"deploy"}',
    totalSteps: 2,
    requestedBy: "irc:alice",
    origin: "irc:#ops",
    source: "cn=loki",
    clipboardYaml: DESIGN,
    stepNames: ["local:deploy", "dns:update_host", "monitoring:unsilence"],
    plan: true,
    forced: true,
    applyApproval: anyApprover,
    lease: { owner: "a", leaseMs: LEASE },
    ...extra,
  };
}

/** Register the plan-then-apply cases; `fresh` opens an empty store, `twins` two over one database. */
export function planApplyContract(
  fresh: () => Promise<RunStore>,
  twins: () => Promise<[RunStore, RunStore]>,
): void {
  it("hands a succeeded plan's host to its apply run, awaiting approval, in one fenced write", async () => {
    const [store, other] = await twins();
    const plan = await store.createRun(planRun());
    expect(plan).toMatchObject({ state: "running", plan: true, applyApproval: anyApprover, planRun: null });
    await store.writeStep({ runId: plan.id, owner: "a" }, 0, {
      patch: { state: "ok" },
      output: `${DESIGN}plan: [{step: local:deploy, action: create, target: loki}]\n`,
    });
    const from = await store.latestSeq();

    expect(await store.finishPlanForApproval({ runId: plan.id, owner: "b" })).toBeUndefined();
    const handed = await store.finishPlanForApproval({ runId: plan.id, owner: "a" });
    expect(handed?.plan).toMatchObject({ id: plan.id, state: "succeeded", leaseOwner: null });
    const apply = handed!.apply;
    expect(apply).toMatchObject({
      host: "loki",
      pipeline: "deploy",
      pipelineJson: '{"name":"deploy"}',
      state: "awaiting_approval",
      plan: false,
      forced: true,
      requestedBy: "irc:alice",
      origin: "irc:#ops",
      source: "cn=loki",
      planRun: plan.id,
      applyApproval: null,
      approval: { role: null, count: 1, requesterPerson: "alice", notify: [] },
    });
    expect(apply.approval!.expiresAt).toBeGreaterThanOrEqual(apply.createdAt + LEASE);
    // The apply starts from the design as loaded, not from the plan's clipboard.
    expect(await store.getSnapshot(apply.id, 0, "input")).toBe(DESIGN);
    expect((await store.listSteps(apply.id)).map((s) => [s.name, s.state, s.onFailure])).toEqual([
      ["local:deploy", "pending", false],
      ["dns:update_host", "pending", false],
      ["monitoring:unsilence", "pending", true],
    ]);
    expect((await store.readEvents(from)).map((e) => [e.type, e.runId])).toEqual([
      ["run-finished", plan.id],
      ["run-awaiting-approval", apply.id],
    ]);
    const [awaiting] = await store.readEvents(from, { runId: apply.id });
    expect(awaiting).toMatchObject({ run: { planRun: plan.id }, approval: { role: null } });

    // It holds the host, and another process sees it waiting (it is state in the store).
    await expect(store.createRun(planRun({ lease: undefined }))).rejects.toMatchObject({
      code: "E_HOST_BUSY",
    });
    expect(await other.getRun(apply.id)).toMatchObject({ state: "awaiting_approval", planRun: plan.id });
    expect(await other.claimableRuns()).toEqual([]);
    expect(
      await other.decideApproval({
        runId: apply.id,
        person: "bob",
        identity: "irc:bob",
        verdict: "approve",
        reason: "",
      }),
    ).toMatchObject({ outcome: "approved", run: { state: "queued", plan: false } });
    expect((await store.claimableRuns()).map((r) => r.id)).toEqual([apply.id]);
  });

  it("hands over nothing for a run that is no plan-then-apply, or whose plan ended otherwise", async () => {
    const store = await fresh();
    const plain = await store.createRun(
      planRun({ host: "thor", applyApproval: undefined, lease: { owner: "a", leaseMs: LEASE } }),
    );
    await expect(store.finishPlanForApproval({ runId: plain.id, owner: "a" })).rejects.toMatchObject({
      code: "E_RUN_STATE",
    });
    expect((await store.getRun(plain.id))?.state).toBe("running");

    const failed = await store.createRun(planRun());
    await store.finishIfOwner(
      { runId: failed.id, owner: "a" },
      { state: "failed", error: { name: "StepError", code: "E_STEP", message: "no" } },
    );
    expect(await store.finishPlanForApproval({ runId: failed.id, owner: "a" })).toBeUndefined();
    expect(await store.listRuns({ host: "loki" })).toHaveLength(1);
  });
}
