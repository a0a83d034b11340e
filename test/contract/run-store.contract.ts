/**
 * The RunStore contract: what every store implementation (SQLite today, PostgreSQL next) must do,
 * written against the interface alone. A test file per implementation calls runStoreContract
 * with a factory that opens a fresh, empty store.
 */
import { afterEach, describe, expect, it } from "vitest";
import { summarize } from "../../src/store/run-summary.js";
import type { NewRun, RunStore } from "../../src/store/run-store.js";
import type { RunEvent, WireError } from "../../src/protocol.js";
import { hostIndexContract } from "./host-index.contract.js";
import { scheduleStoreContract } from "./schedule-store.contract.js";
import { nodeEventStoreContract } from "./node-event-store.contract.js";
import { planApplyContract } from "./plan-apply.contract.js";

/** Opens a fresh, empty store; the contract closes it. */
export type StoreFactory = () => Promise<RunStore>;

/** Opens two stores over one fresh, empty database, as two processes would; the contract closes them. */
export type TwinStoreFactory = () => Promise<[RunStore, RunStore]>;

const LEASE = 60_000;
const cancelError: WireError = { name: "RunError", code: "E_RUN_CANCELLED", message: "cancelled" };

function newRun(host: string, extra: Partial<NewRun> = {}): NewRun {
  return {
    host,
    pipeline: "p",
    pipelineJson: "{}",
    totalSteps: 2,
    requestedBy: "test:contract",
    origin: "irc:#ops",
    source: `${host}.yml`,
    clipboardYaml: `instance: {hostname: ${host}}\n`,
    stepNames: ["ok:a", "fail:b", "ok:cleanup"],
    ...extra,
  };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Register the contract's tests for one implementation. */
export function runStoreContract(name: string, factory: StoreFactory, twins: TwinStoreFactory): void {
  describe(`RunStore contract: ${name}`, () => {
    const open: RunStore[] = [];
    const fresh = async (): Promise<RunStore> => {
      const store = await factory();
      open.push(store);
      return store;
    };
    const freshTwins = async (): Promise<[RunStore, RunStore]> => {
      const pair = await twins();
      open.push(...pair);
      return pair;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((s) => s.close()));
    });

    hostIndexContract(fresh);
    scheduleStoreContract(fresh);
    nodeEventStoreContract(fresh, freshTwins);
    planApplyContract(fresh, freshTwins);

    it("creates runs queued or held, and refuses a second active run on a host", async () => {
      const store = await fresh();
      const queued = await store.createRun(newRun("loki"));
      expect(queued).toMatchObject({ state: "queued", stepIndex: -1, leaseOwner: null });
      await expect(store.createRun(newRun("loki"))).rejects.toMatchObject({
        code: "E_HOST_BUSY",
        message: expect.stringContaining(queued.id),
      });
      const held = await store.createRun(newRun("thor", { lease: { owner: "a", leaseMs: LEASE } }));
      expect(held).toMatchObject({ state: "running", leaseOwner: "a" });
      const now = await store.now();
      expect(held.leaseExpiresAt).toBeGreaterThan(now);
      const steps = await store.listSteps(held.id);
      expect(steps.map((s) => [s.name, s.onFailure, s.state])).toEqual([
        ["ok:a", false, "pending"],
        ["fail:b", false, "pending"],
        ["ok:cleanup", true, "pending"],
      ]);
      expect(await store.getSnapshot(held.id, 0, "input")).toBe("instance: {hostname: thor}\n");
    });

    it("claims a run for one owner only, renews only the runs asked for, and only while owned", async () => {
      const store = await fresh();
      const a = await store.createRun(newRun("loki"));
      const b = await store.createRun(newRun("thor"));
      expect((await store.claimableRuns()).map((r) => r.id).sort()).toEqual([a.id, b.id].sort());
      expect(await store.claim(a.id, "p1", LEASE)).toMatchObject({ state: "running", leaseOwner: "p1" });
      expect(await store.claim(a.id, "p2", LEASE)).toBeUndefined();
      expect(await store.claim(b.id, "p1", LEASE)).toBeDefined();
      const bBefore = (await store.getRun(b.id))!.leaseExpiresAt;
      const renewed = await store.renew("p1", [a.id], LEASE * 2);
      expect(renewed).toEqual([{ runId: a.id, cancelRequested: false }]);
      expect((await store.getRun(b.id))!.leaseExpiresAt).toBe(bBefore);
      expect(await store.renew("p2", [a.id, b.id], LEASE)).toEqual([]);
      expect((await store.claimableRuns()).map((r) => r.id)).toEqual([]);
    });

    it("lets an expired lease be taken over, and fences the old owner out of every write", async () => {
      const store = await fresh();
      const run = await store.createRun(newRun("loki", { lease: { owner: "old", leaseMs: 1 } }));
      const lease = { runId: run.id, owner: "old" };
      await until("the lease to expire", async () =>
        (await store.now()) > run.leaseExpiresAt! ? true : undefined,
      );
      expect((await store.claimableRuns()).map((r) => r.id)).toEqual([run.id]);
      expect(await store.claim(run.id, "new", LEASE)).toMatchObject({ leaseOwner: "new" });
      const step = { phase: "main" as const, index: 0, total: 2, name: "ok:a" };
      expect(await store.writeStep(lease, 0, { patch: { state: "ok" }, moveRun: true })).toBe(false);
      expect(await store.appendLog(lease, { step, attempt: 1, stream: "stderr", line: "late" })).toBe(false);
      expect(await store.renew("old", [run.id], LEASE)).toEqual([]);
      expect(await store.release(lease)).toBe(false);
      expect(await store.finishIfOwner(lease, { state: "succeeded", error: null })).toBeUndefined();
      const now = await store.getRun(run.id);
      expect(now).toMatchObject({ state: "running", leaseOwner: "new", stepIndex: -1 });
      expect((await store.listSteps(run.id))[0]!.state).toBe("pending");
      expect(await store.readLog(run.id)).toEqual([]);
      const finished = await store.finishIfOwner(
        { runId: run.id, owner: "new" },
        { state: "succeeded", error: null },
      );
      expect(finished).toMatchObject({ state: "succeeded", leaseOwner: null, leaseExpiresAt: null });
    });

    it("cancels a queued run atomically, and never one a process has just claimed", async () => {
      const store = await fresh();
      const queued = await store.createRun(newRun("loki"));
      const cancelled = await store.cancelIfQueued(queued.id, cancelError);
      expect(cancelled).toMatchObject({ outcome: "cancelled", run: { state: "cancelled" } });
      expect(cancelled.run!.error?.code).toBe("E_RUN_CANCELLED");

      // The race: the operator saw it queued, a service claimed it before the cancel landed.
      const raced = await store.createRun(newRun("thor"));
      await store.claim(raced.id, "service", LEASE);
      const late = await store.cancelIfQueued(raced.id, cancelError);
      expect(late).toMatchObject({ outcome: "not-queued", run: { state: "running", leaseOwner: "service" } });
      // The host is still held: no second run may start on it.
      await expect(store.createRun(newRun("thor"))).rejects.toMatchObject({ code: "E_HOST_BUSY" });
      // The fallback: ask the executing process to cancel.
      expect(await store.requestCancel(raced.id)).toMatchObject({ state: "running", cancelRequested: true });
      expect(await store.renew("service", [raced.id], LEASE)).toEqual([
        { runId: raced.id, cancelRequested: true },
      ]);
      expect(await store.requestCancel(queued.id)).toBeUndefined();
    });

    it("moves the run's position only when asked, and keeps each step's output clipboard", async () => {
      const store = await fresh();
      const run = await store.createRun(newRun("loki", { lease: { owner: "a", leaseMs: LEASE } }));
      const lease = { runId: run.id, owner: "a" };
      expect(await store.markStarted(lease)).toMatchObject({ state: "running" });
      await store.writeStep(lease, 0, { patch: { state: "ok" }, moveRun: true, output: "step: 1\n" });
      await store.writeStep(lease, 1, { patch: { state: "failed" }, moveRun: true });
      await store.writeStep(lease, 2, { patch: { state: "ok" }, output: "cleanup: 1\n" });
      expect((await store.getRun(run.id))!.stepIndex).toBe(1);
      expect(await store.getSnapshot(run.id, 0, "output")).toBe("step: 1\n");
      expect(await store.getSnapshot(run.id, 1, "input")).toBe("step: 1\n");
      expect(await store.getSnapshot(run.id, 2, "output")).toBe("cleanup: 1\n");
      const finished = await store.finishIfOwner(lease, { state: "failed", error: cancelError });
      expect(finished).toMatchObject({
        state: "failed",
        stepIndex: 1,
        stepName: "fail:b",
        error: cancelError,
      });
    });

    it("retries a failed run from a step, with an edited clipboard, only when it is retryable", async () => {
      const store = await fresh();
      const run = await store.createRun(newRun("loki", { lease: { owner: "a", leaseMs: LEASE } }));
      const lease = { runId: run.id, owner: "a" };
      await store.writeStep(lease, 0, { patch: { state: "ok" }, moveRun: true, output: "step: 1\n" });
      const retry = {
        runId: run.id,
        from: 1,
        steps: [
          { name: "fail:b", onFailure: false },
          { name: "ok:cleanup", onFailure: true },
        ],
        clipboardYaml: "fixed: true\n",
        requestedBy: "test:other",
        origin: "cli",
        forced: true,
      };
      await expect(store.retryRun(retry)).rejects.toMatchObject({ code: "E_RUN_STATE" });
      await store.finishIfOwner(lease, { state: "failed", error: cancelError });
      const retried = await store.retryRun(retry);
      expect(retried).toMatchObject({
        state: "queued",
        error: null,
        requestedBy: "test:other",
        forced: true,
      });
      expect(await store.getSnapshot(run.id, 1, "input")).toBe("fixed: true\n");
      expect((await store.listSteps(run.id)).map((s) => s.state)).toEqual(["ok", "pending", "pending"]);
      await expect(store.retryRun(retry)).rejects.toMatchObject({ code: "E_RUN_STATE" });
    });

    it("keeps whether a run is a plan run, through a retry", async () => {
      const store = await fresh();
      const real = await store.createRun(newRun("loki"));
      expect(real.plan).toBe(false);
      const plan = await store.createRun(
        newRun("thor", { plan: true, lease: { owner: "a", leaseMs: LEASE } }),
      );
      expect(plan.plan).toBe(true);
      expect((await store.getRun(plan.id))?.plan).toBe(true);
      expect((await store.listRuns({ host: "thor" }))[0]?.plan).toBe(true);
      await store.finishIfOwner({ runId: plan.id, owner: "a" }, { state: "failed", error: cancelError });
      const retried = await store.retryRun({
        runId: plan.id,
        from: 0,
        steps: [{ name: "ok:a", onFailure: false }],
        requestedBy: "test:contract",
        origin: "cli",
        forced: false,
      });
      expect(retried.plan).toBe(true);
    });

    it("keeps the log and the audit trail", async () => {
      const store = await fresh();
      const run = await store.createRun(newRun("loki", { lease: { owner: "a", leaseMs: LEASE } }));
      const lease = { runId: run.id, owner: "a" };
      const cleanup = { phase: "on_failure" as const, index: 0, total: 1, name: "ok:cleanup" };
      await store.appendLog(lease, { step: cleanup, attempt: 2, stream: "stderr", line: "cleaning" });
      expect(await store.readLog(run.id)).toMatchObject([
        { runId: run.id, stepIndex: 2, step: cleanup, attempt: 2, stream: "stderr", line: "cleaning" },
      ]);
      const entry = {
        at: 1000,
        identity: "irc:alice",
        network: "irc",
        room: "#ops",
        command: "deploy loki.yml",
        decision: "allowed" as const,
        reason: "",
        runId: run.id,
      };
      await store.appendAudit(entry);
      await store.appendAudit({ ...entry, at: 2000, decision: "denied", runId: null });
      expect(await store.listAudit(10)).toEqual([
        { ...entry, at: 2000, decision: "denied", runId: null },
        entry,
      ]);
    });

    it("keeps a flood of log lines handed over at once, of two runs, each once and in order, before the step's end", async () => {
      const [store, reader] = await freshTwins();
      const before = await reader.latestSeq();
      const a = await store.createRun(newRun("loki", { lease: { owner: "x", leaseMs: LEASE } }));
      const b = await store.createRun(newRun("thor", { lease: { owner: "x", leaseMs: LEASE } }));
      const step = { phase: "main" as const, index: 0, total: 2, name: "ok:a" };
      const leases = [a, b].map((run) => ({ runId: run.id, owner: "x" }));
      // More lines than one batch holds (500 in PostgreSQL), not awaited one by one, interleaved.
      const LINES = 1203;
      const kept: Promise<boolean>[] = [];
      for (let i = 0; i < LINES; i++)
        for (const lease of leases)
          kept.push(store.appendLog(lease, { step, attempt: 1, stream: "stderr", line: `line ${i}` }));
      // The step's end, asked for before any line is awaited: it comes after all of them.
      const finished = leases.map((lease) =>
        store.appendEvent(lease, { type: "step-finished", step, state: "ok", error: null }),
      );
      const lastLine = store.appendLog(leases[0]!, { step, attempt: 1, stream: "stderr", line: "after" });
      const ending = store.finishIfOwner(leases[1]!, { state: "succeeded", error: null });
      expect(await Promise.all(kept)).toEqual(kept.map(() => true));
      expect(await Promise.all(finished)).toEqual([true, true]);
      expect(await lastLine).toBe(true);
      expect(await ending).toBeDefined();
      // Read by another process: every line once, in the order asked for, then the step's end.
      for (const [run, tail] of [
        [a, ["step-finished", "after"]],
        [b, ["step-finished", "run-finished"]],
      ] as const) {
        const events: RunEvent[] = [];
        for (let page = await reader.readEvents(before, { runId: run.id }); page.length > 0;) {
          events.push(...page);
          page = await reader.readEvents(page.at(-1)!.seq, { runId: run.id });
        }
        const shown = events
          .filter((e) => e.type !== "run-queued")
          .map((e) => (e.type === "step-log" ? e.line : e.type));
        expect(shown).toEqual([...Array.from({ length: LINES }, (_, i) => `line ${i}`), ...tail]);
        const seqs = events.map((e) => e.seq);
        expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
        expect(new Set(seqs).size).toBe(seqs.length);
      }
      expect((await reader.readLog(a.id)).map((l) => l.line).slice(-2)).toEqual([
        `line ${LINES - 1}`,
        "after",
      ]);
    });

    it("keeps the log lines asked for before the store closes, and refuses those of a lost lease", async () => {
      const [store, reader] = await freshTwins();
      const run = await store.createRun(newRun("loki", { lease: { owner: "x", leaseMs: LEASE } }));
      const lease = { runId: run.id, owner: "x" };
      const step = { phase: "main" as const, index: 0, total: 2, name: "ok:a" };
      const kept = Array.from({ length: 30 }, (_, i) =>
        store.appendLog(lease, { step, attempt: 1, stream: "stderr", line: `line ${i}` }),
      );
      await store.close();
      expect(await Promise.all(kept)).toEqual(kept.map(() => true));
      expect((await reader.readLog(run.id)).map((l) => l.line)).toEqual(
        Array.from({ length: 30 }, (_, i) => `line ${i}`),
      );
      // Lines of a lease another process took over are refused, each of them, and none kept.
      await reader.release(lease);
      expect(await reader.claim(run.id, "y", LEASE)).toBeDefined();
      const late = Array.from({ length: 3 }, () =>
        reader.appendLog(lease, { step, attempt: 1, stream: "stderr", line: "late" }),
      );
      expect(await Promise.all(late)).toEqual([false, false, false]);
      expect((await reader.readLog(run.id)).map((l) => l.line)).not.toContain("late");
    });

    it("feeds every event in order with increasing sequence numbers, per run or all", async () => {
      const store = await fresh();
      const before = await store.latestSeq();
      const a = await store.createRun(newRun("loki", { lease: { owner: "x", leaseMs: LEASE } }));
      const b = await store.createRun(newRun("thor"));
      const lease = { runId: a.id, owner: "x" };
      const step = { phase: "main" as const, index: 0, total: 2, name: "ok:a" };
      await store.markStarted(lease);
      await store.writeStep(lease, 0, {
        patch: { state: "running" },
        moveRun: true,
        event: { type: "step-started", step, attempt: 1 },
      });
      await store.appendLog(lease, { step, attempt: 1, stream: "stderr", line: "hello" });
      await store.appendEvent(lease, { type: "step-finished", step, state: "ok", error: null });
      await store.cancelIfQueued(b.id, cancelError);
      await store.finishIfOwner(lease, { state: "succeeded", error: null });

      const all = await store.readEvents(before);
      expect(all.map((e) => [e.runId === a.id ? "a" : "b", e.type])).toEqual([
        ["a", "run-queued"],
        ["b", "run-queued"],
        ["a", "run-started"],
        ["a", "step-started"],
        ["a", "step-log"],
        ["a", "step-finished"],
        ["b", "run-finished"],
        ["a", "run-finished"],
      ]);
      const seqs = all.map((e) => e.seq);
      expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
      expect(new Set(seqs).size).toBe(seqs.length);
      expect(await store.latestSeq()).toBe(seqs[seqs.length - 1]);
      expect((await store.readEvents(before, { runId: b.id })).map((e) => e.type)).toEqual([
        "run-queued",
        "run-finished",
      ]);
      expect((await store.readEvents(seqs[2]!, { limit: 2 })).map((e) => e.seq)).toEqual(seqs.slice(3, 5));
      const finished = all.find(
        (e): e is Extract<RunEvent, { type: "run-finished" }> =>
          e.type === "run-finished" && e.runId === a.id,
      );
      expect(finished).toMatchObject({
        host: "loki",
        origin: "irc:#ops",
        run: { state: "succeeded", step: step },
      });
    });

    it("summarizes a run in its run-level events exactly as the record it returns", async () => {
      const store = await fresh();
      const before = await store.latestSeq();
      // A plan run (the summary's optional `plan`), and an error whose message holds a NUL.
      const planned = await store.createRun(
        newRun("loki", { plan: true, lease: { owner: "x", leaseMs: LEASE } }),
      );
      const plain = await store.createRun(newRun("thor"));
      const lease = { runId: planned.id, owner: "x" };
      const step = { phase: "main" as const, index: 1, total: 2, name: "fail:b" };
      const started = await store.markStarted(lease);
      await store.writeStep(lease, 1, { patch: { state: "running" }, moveRun: true });
      const error: WireError = { name: "StepError", code: "E_STEP_EXIT", message: 'bad \u0000 byte "x"' };
      const failed = await store.finishIfOwner(lease, { state: "failed", error });
      const cancelled = await store.cancelIfQueued(plain.id, cancelError);
      const summaries = (await store.readEvents(before))
        .filter(
          (e): e is Extract<RunEvent, { type: "run-started" | "run-finished" }> =>
            e.type === "run-started" || e.type === "run-finished",
        )
        .map((e) => [e.type, e.run]);
      expect(summaries).toEqual([
        ["run-started", summarize(started!)],
        ["run-finished", summarize(failed!)],
        ["run-finished", summarize(cancelled.run!)],
      ]);
      expect(failed).toMatchObject({ error, stepIndex: 1 });
      expect(summarize(failed!)).toMatchObject({ plan: true, step });
    });

    it("follows the feed: waits for events appended later, and stops when aborted", async () => {
      const store = await fresh();
      const from = await store.latestSeq();
      const stop = new AbortController();
      const seen: RunEvent[] = [];
      const following = (async () => {
        for await (const event of store.follow(from, { signal: stop.signal, pollMs: 10 })) {
          seen.push(event);
          if (seen.length === 2) stop.abort();
        }
      })();
      await until("the follower to wait", async () => true);
      await store.createRun(newRun("loki"));
      await store.createRun(newRun("thor"));
      await following;
      expect(seen.map((e) => e.host)).toEqual(["loki", "thor"]);
      // An aborted follow ends at once, even with nothing to read.
      const idle = new AbortController();
      const idleFollow = (async () => {
        const got: RunEvent[] = [];
        for await (const event of store.follow(await store.latestSeq(), { signal: idle.signal }))
          got.push(event);
        return got;
      })();
      idle.abort();
      expect(await idleFollow).toEqual([]);
    });

    it("wakes a follower at once for an event this store appends, not at its next poll", async () => {
      const store = await fresh();
      const from = await store.latestSeq();
      const stop = new AbortController();
      const seen: RunEvent[] = [];
      const following = (async () => {
        // An hour between polls: only a wake-up on the append can bring the event within the test.
        for await (const event of store.follow(from, { signal: stop.signal, pollMs: 3_600_000 })) {
          seen.push(event);
          stop.abort();
        }
      })();
      // The follower has read the empty feed and sleeps (one read is all it does before).
      await until("the follower to sleep", async () => true);
      await store.createRun(newRun("loki"));
      await following;
      expect(seen.map((e) => e.host)).toEqual(["loki"]);
    });
    const approval = (count: number, expiresInMs = LEASE) => ({
      role: "leads",
      count,
      requesterPerson: "alice",
      notify: ["irc:#leads"],
      expiresInMs,
    });
    const decision = (runId: string, person: string, verdict: "approve" | "deny" = "approve") => ({
      runId,
      person,
      identity: `irc:${person}`,
      verdict,
      reason: verdict === "deny" ? "not today" : "",
    });

    it("creates a run awaiting approval: not claimable, holding its host, announced with whom to ask", async () => {
      const store = await fresh();
      const from = await store.latestSeq();
      const run = await store.createRun(
        newRun("loki", { approval: approval(2), lease: { owner: "a", leaseMs: LEASE } }),
      );
      expect(run).toMatchObject({
        state: "awaiting_approval",
        leaseOwner: null,
        approval: { role: "leads", count: 2, requesterPerson: "alice", notify: ["irc:#leads"] },
      });
      expect(run.approval!.expiresAt).toBeGreaterThanOrEqual(run.createdAt + LEASE);
      expect(await store.claimableRuns()).toEqual([]);
      expect(await store.claim(run.id, "a", LEASE)).toBeUndefined();
      await expect(store.createRun(newRun("loki"))).rejects.toMatchObject({ code: "E_HOST_BUSY" });
      const events = await store.readEvents(from, { runId: run.id });
      expect(events).toMatchObject([
        {
          type: "run-awaiting-approval",
          run: { id: run.id, state: "awaiting_approval" },
          approval: { role: "leads", count: 2, expiresAt: run.approval!.expiresAt, notify: ["irc:#leads"] },
        },
      ]);
      expect((await store.getRun(run.id))?.approval).toEqual(run.approval);
    });

    it("counts each person's approval once and queues the run when the count is reached", async () => {
      const store = await fresh();
      const run = await store.createRun(newRun("loki", { approval: approval(2) }));
      const from = await store.latestSeq();
      expect(await store.decideApproval(decision(run.id, "bob"))).toMatchObject({
        outcome: "recorded",
        approvals: 1,
        run: { state: "awaiting_approval" },
      });
      expect(
        await store.decideApproval({ ...decision(run.id, "bob"), identity: "xmpp:bob@x" }),
      ).toMatchObject({
        outcome: "already-approved",
        approvals: 1,
      });
      expect(await store.decideApproval(decision(run.id, "carol"))).toMatchObject({
        outcome: "approved",
        approvals: 2,
        run: { state: "queued" },
      });
      expect((await store.claimableRuns()).map((r) => r.id)).toEqual([run.id]);
      expect(await store.decideApproval(decision(run.id, "dave"))).toMatchObject({
        outcome: "not-awaiting",
        run: { state: "queued" },
      });
      expect((await store.listApprovals(run.id)).map((a) => [a.person, a.identity, a.verdict])).toEqual([
        ["bob", "irc:bob", "approve"],
        ["carol", "irc:carol", "approve"],
      ]);
      expect((await store.readEvents(from, { runId: run.id })).map((e) => e.type)).toEqual([
        "run-approval",
        "run-approval",
        "run-queued",
      ]);
      expect(await store.decideApproval(decision("no-such-run", "bob"))).toEqual({
        outcome: "not-awaiting",
        run: undefined,
      });
    });

    it("cancels a run on a deny, with who denied and why", async () => {
      const store = await fresh();
      const run = await store.createRun(newRun("loki", { approval: approval(2) }));
      await store.decideApproval(decision(run.id, "bob"));
      const denied = await store.decideApproval(decision(run.id, "carol", "deny"));
      expect(denied).toMatchObject({
        outcome: "denied",
        run: {
          state: "cancelled",
          error: { code: "E_RUN_DENIED", message: expect.stringContaining("irc:carol: not today") },
        },
      });
      expect(await store.createRun(newRun("loki"))).toMatchObject({ state: "queued" });
      const last = (await store.readEvents(0, { runId: run.id })).at(-1);
      expect(last).toMatchObject({ type: "run-finished", run: { state: "cancelled" } });
    });

    it("expires runs past their deadline once, on the store's clock, also when two stores race", async () => {
      const store = await fresh();
      const soon = await store.createRun(newRun("loki", { approval: approval(1, 1) }));
      const later = await store.createRun(newRun("odin", { approval: approval(1) }));
      await until("the deadline to pass", async () =>
        (await store.now()) > soon.approval!.expiresAt ? true : undefined,
      );
      const [first, second] = await Promise.all([store.expireApprovals(), store.expireApprovals()]);
      expect([...first!, ...second!].map((r) => r.id)).toEqual([soon.id]);
      expect(await store.getRun(soon.id)).toMatchObject({
        state: "cancelled",
        error: { code: "E_RUN_APPROVAL_EXPIRED" },
      });
      expect((await store.getRun(later.id))?.state).toBe("awaiting_approval");
      expect(await store.decideApproval(decision(soon.id, "bob"))).toMatchObject({
        outcome: "not-awaiting",
      });
      const finished = (await store.readEvents(0, { runId: soon.id })).filter(
        (e) => e.type === "run-finished",
      );
      expect(finished).toHaveLength(1);
    });

    it("cancels a run awaiting approval like a queued one", async () => {
      const store = await fresh();
      const run = await store.createRun(newRun("loki", { approval: approval(1) }));
      expect(await store.cancelIfQueued(run.id, cancelError)).toMatchObject({
        outcome: "cancelled",
        run: { state: "cancelled" },
      });
      expect(await store.decideApproval(decision(run.id, "bob"))).toMatchObject({
        outcome: "not-awaiting",
      });
    });

    it("pages runs newest first under filters, with a cursor that neither skips nor repeats", async () => {
      const store = await fresh();
      const made: string[] = [];
      for (let i = 0; i < 7; i++) {
        const run = await store.createRun(
          newRun(`h${i}`, { pipeline: i % 2 === 0 ? "deploy" : "destroy", requestedBy: `api:u${i % 3}` }),
        );
        made.push(run.id);
      }
      const seen: string[] = [];
      let after: Awaited<ReturnType<RunStore["pageRuns"]>>["next"];
      for (let pages = 0; pages < 10; pages++) {
        const page = await store.pageRuns({ limit: 3, ...(after ? { after } : {}) });
        seen.push(...page.runs.map((r) => r.id));
        after = page.next;
        if (!after) break;
        // A run added meanwhile is newer than every cursor: it never shows up in a later page.
        if (pages === 0) await store.createRun(newRun("late"));
      }
      expect(new Set(seen).size).toBe(7);
      expect([...seen].sort()).toEqual([...made].sort());
      const all = await store.pageRuns({ limit: 100 });
      const order = all.runs.map((r) => [r.createdAt, r.id] as const);
      expect(order).toEqual(
        [...order].sort((a, b) => b[0] - a[0] || (a[1] < b[1] ? 1 : a[1] > b[1] ? -1 : 0)),
      );
      expect(all.next).toBeUndefined();

      const deploys = await store.pageRuns({ limit: 100, pipeline: "deploy" });
      expect(deploys.runs.map((r) => r.host).sort()).toEqual(["h0", "h2", "h4", "h6"]);
      const byUser = await store.pageRuns({ limit: 100, requestedBy: "api:u1", states: ["queued"] });
      expect(byUser.runs.map((r) => r.host).sort()).toEqual(["h1", "h4"]);
      expect((await store.pageRuns({ limit: 100, host: "h3" })).runs.map((r) => r.id)).toEqual([made[3]]);
      const now = await store.now();
      expect((await store.pageRuns({ limit: 100, since: now + 60_000 })).runs).toEqual([]);
      expect((await store.pageRuns({ limit: 100, until: 0 })).runs).toEqual([]);
      expect((await store.pageRuns({ limit: 100, until: now + 60_000 })).runs).toHaveLength(8);
      expect(await store.countRunsByState()).toEqual({
        queued: 8,
        running: 0,
        succeeded: 0,
        failed: 0,
        cancelled: 0,
      });
    });

    it("deletes only a finished run, with its steps and snapshots", async () => {
      const store = await fresh();
      const queued = await store.createRun(newRun("loki"));
      expect(await store.deleteFinishedRun(queued.id)).toMatchObject({
        outcome: "not-finished",
        run: { id: queued.id, state: "queued" },
      });
      expect(await store.getRun(queued.id)).toBeDefined();
      await store.cancelIfQueued(queued.id, cancelError);
      expect(await store.deleteFinishedRun(queued.id)).toEqual({ outcome: "deleted" });
      expect(await store.getRun(queued.id)).toBeUndefined();
      expect(await store.listSteps(queued.id)).toEqual([]);
      expect(await store.getSnapshot(queued.id, 0, "input")).toBeUndefined();
      expect(await store.deleteFinishedRun(queued.id)).toEqual({ outcome: "not-found" });
      // The host is free again, and the feed keeps counting from where it was.
      const seq = await store.latestSeq();
      await store.createRun(newRun("loki"));
      expect(await store.latestSeq()).toBeGreaterThan(seq);
    });

    it("filters the audit trail by time and identity, newest first", async () => {
      const store = await fresh();
      const entry = {
        at: 1000,
        identity: "api:ci",
        network: "api",
        room: "api",
        command: "GET /runs",
        decision: "allowed" as const,
        reason: "",
        runId: null,
      };
      await store.appendAudit(entry);
      await store.appendAudit({ ...entry, at: 2000, identity: "irc:alice" });
      await store.appendAudit({ ...entry, at: 3000 });
      expect((await store.queryAudit({ limit: 10, identity: "api:ci" })).map((e) => e.at)).toEqual([
        3000, 1000,
      ]);
      expect((await store.queryAudit({ limit: 10, since: 2000 })).map((e) => e.at)).toEqual([3000, 2000]);
      expect((await store.queryAudit({ limit: 1 })).map((e) => e.at)).toEqual([3000]);
    });

    it("gives each run to exactly one of two processes claiming at once", async () => {
      const [one, two] = await freshTwins();
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) ids.push((await one.createRun(newRun(`host${i}`))).id);
      const claims = await Promise.all(
        ids.flatMap((id) => [
          one.claim(id, "p1", LEASE).then((r) => (r ? ["p1", id] : undefined)),
          two.claim(id, "p2", LEASE).then((r) => (r ? ["p2", id] : undefined)),
        ]),
      );
      const won = claims.filter((c) => c !== undefined);
      expect(won.map((c) => c[1]).sort()).toEqual([...ids].sort());
      for (const [owner, id] of won) expect((await two.getRun(id!))!.leaseOwner).toBe(owner);
      expect(await one.claimableRuns()).toEqual([]);
    });

    it("lets a second process follow what the first appends, and refuses its second run on a host", async () => {
      const [one, two] = await freshTwins();
      const from = await two.latestSeq();
      const stop = new AbortController();
      const seen: RunEvent[] = [];
      const following = (async () => {
        for await (const event of two.follow(from, { signal: stop.signal, pollMs: 10 })) {
          seen.push(event);
          if (seen.length === 2) stop.abort();
        }
      })();
      const run = await one.createRun(newRun("loki"));
      await expect(two.createRun(newRun("loki"))).rejects.toMatchObject({
        code: "E_HOST_BUSY",
        message: expect.stringContaining(run.id),
      });
      await one.cancelIfQueued(run.id, cancelError);
      await following;
      expect(seen.map((e) => [e.runId, e.type])).toEqual([
        [run.id, "run-queued"],
        [run.id, "run-finished"],
      ]);
    });
  });
}
