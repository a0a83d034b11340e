/**
 * The node-event part of the RunStore contract (registered by run-store.contract.ts): an event is
 * kept once under its id, and a rule fires for a node once per debounce, whichever store instance
 * (process) claims it.
 */
import { expect, it } from "vitest";
import type { RunStore } from "../../src/store/run-store.js";
import type { NewNodeEvent } from "../../src/store/node-event-store.js";

function event(id: string, host: string, extra: Partial<NewNodeEvent> = {}): NewNodeEvent {
  return { id, host, kind: "file_changed", at: 1_000, data: { path: "/etc/nginx/nginx.conf" }, ...extra };
}

export function nodeEventStoreContract(
  fresh: () => Promise<RunStore>,
  freshTwins: () => Promise<[RunStore, RunStore]>,
): void {
  it("keeps a node event once under its id and lists events newest first, per node or all", async () => {
    const store = await fresh();
    expect(await store.recordNodeEvent(event("event-0001", "web-1"))).toBe(true);
    expect(await store.recordNodeEvent(event("event-0001", "web-1", { kind: "other" }))).toBe(false);
    expect(await store.recordNodeEvent(event("event-0002", "web-2", { kind: "service_down" }))).toBe(true);
    expect(await store.recordNodeEvent(event("event-0003", "web-1", { data: { path: "/x" } }))).toBe(true);
    const web1 = await store.listNodeEvents({ host: "web-1", limit: 10 });
    expect(web1.map((e) => e.id)).toEqual(["event-0003", "event-0001"]);
    expect(web1[1]).toMatchObject(event("event-0001", "web-1"));
    expect(web1[1]!.receivedAt).toBeGreaterThan(0);
    expect((await store.listNodeEvents({ limit: 2 })).map((e) => e.id)).toEqual(["event-0003", "event-0002"]);
  });

  it("pages events older than a cursor, per node or all, and refuses a cursor it does not keep", async () => {
    const store = await fresh();
    for (const [id, host] of [
      ["event-a", "web-1"],
      ["event-b", "web-2"],
      ["event-c", "web-1"],
      ["event-d", "web-2"],
    ] as const)
      await store.recordNodeEvent(event(id, host));
    const ids = async (query: Parameters<RunStore["listNodeEvents"]>[0]) =>
      (await store.listNodeEvents(query)).map((e) => e.id);
    expect(await ids({ limit: 2 })).toEqual(["event-d", "event-c"]);
    expect(await ids({ limit: 2, before: "event-c" })).toEqual(["event-b", "event-a"]);
    expect(await ids({ limit: 2, before: "event-a" })).toEqual([]);
    expect(await ids({ host: "web-2", limit: 5, before: "event-d" })).toEqual(["event-b"]);
    await expect(store.listNodeEvents({ limit: 2, before: "event-zz" })).rejects.toMatchObject({
      code: "E_USAGE",
    });
    // Another node's event is no cursor into this node's events.
    await expect(store.listNodeEvents({ host: "web-1", limit: 2, before: "event-d" })).rejects.toMatchObject({
      code: "E_USAGE",
    });
  });

  it("fires a rule for a node once within its debounce, and each (rule, node) on its own", async () => {
    const store = await fresh();
    const claim = { rule: "nginx", host: "web-1", debounceMs: 3_600_000 };
    const first = await store.claimRuleFiring({ ...claim, eventId: "event-a" });
    expect(first).toMatchObject({
      rule: "nginx",
      host: "web-1",
      eventId: "event-a",
      runId: null,
      error: null,
    });
    expect(await store.claimRuleFiring({ ...claim, eventId: "event-b" })).toBeUndefined();
    expect(await store.claimRuleFiring({ ...claim, host: "web-2", eventId: "event-c" })).toBeDefined();
    expect(await store.claimRuleFiring({ ...claim, rule: "other", eventId: "event-d" })).toBeDefined();
    await store.recordRuleFiringResult(
      { rule: "nginx", host: "web-1", eventId: "event-a" },
      { runId: "run-1" },
    );
    // A result for another event (a firing that lost) changes nothing.
    await store.recordRuleFiringResult({ rule: "nginx", host: "web-1", eventId: "event-b" }, { error: "x" });
    expect(await store.getRuleFiring("nginx", "web-1")).toMatchObject({
      eventId: "event-a",
      runId: "run-1",
      error: null,
      firedAt: first!.firedAt,
    });
    // Past the debounce (0 here) it fires again, and the new firing starts without a result.
    const again = await store.claimRuleFiring({ ...claim, debounceMs: 0, eventId: "event-e" });
    expect(again).toMatchObject({ eventId: "event-e", runId: null });
    expect(again!.firedAt).toBeGreaterThanOrEqual(first!.firedAt);
  });

  it("lets exactly one of two processes fire a rule for a node", async () => {
    const [a, b] = await freshTwins();
    const claim = { rule: "nginx", host: "web-1", debounceMs: 3_600_000 };
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 ? a : b).claimRuleFiring({ ...claim, eventId: `event-${i}` }),
      ),
    );
    expect(results.filter((r) => r !== undefined)).toHaveLength(1);
  });
}
