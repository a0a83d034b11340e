/**
 * The RunStore contract: what every store implementation (SQLite today, PostgreSQL next) must do,
 * written against the interface alone. A test file per implementation calls runStoreContract
 * with a factory that opens a fresh, empty store.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { NewRun, RunStore } from "../../src/store/run-store.js";
import type { RunEvent, WireError } from "../../src/protocol.js";

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
