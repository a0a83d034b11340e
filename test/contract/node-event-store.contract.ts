/**
 * The node-event part of the RunStore contract (registered by run-store.contract.ts): an event is
 * kept once under its id, and a rule fires for a node once per debounce, whichever store instance
 * (process) claims it.
 */
import { expect, it } from "vitest";
import type { RunStore } from "../../src/store/run-store.js";
import type { NewNodeEvent, NodeEventRecord } from "../../src/store/node-event-store.js";

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

  it("reads events after a seq oldest first, per node or all, numbered in the order they were kept", async () => {
    const store = await fresh();
    expect(await store.latestNodeEventSeq()).toBe(0);
    for (const [id, host] of [
      ["event-a", "web-1"],
      ["event-b", "web-2"],
      ["event-c", "web-1"],
    ] as const)
      await store.recordNodeEvent(event(id, host));
    await store.recordNodeEvent(event("event-b", "web-2"));
    const all = await store.nodeEventsAfter(0, { limit: 10 });
    expect(all.map((e) => e.id)).toEqual(["event-a", "event-b", "event-c"]);
    expect(all[0]!.seq).toBeLessThan(all[1]!.seq);
    expect(all[1]!.seq).toBeLessThan(all[2]!.seq);
    expect(await store.latestNodeEventSeq()).toBe(all[2]!.seq);
    expect((await store.nodeEventsAfter(all[0]!.seq, { limit: 1 })).map((e) => e.id)).toEqual(["event-b"]);
    expect((await store.nodeEventsAfter(0, { host: "web-1", limit: 10 })).map((e) => e.id)).toEqual([
      "event-a",
      "event-c",
    ]);
    // Pages and follows carry the same seq.
    expect((await store.listNodeEvents({ limit: 1 }))[0]!.seq).toBe(all[2]!.seq);
  });

  it("wakes a follower for an event another process keeps, per node or all, each once and in order", async () => {
    const [writer, reader] = await freshTwins();
    const from = await reader.latestNodeEventSeq();
    const stop = new AbortController();
    const seen: NodeEventRecord[] = [];
    const seenWeb1: NodeEventRecord[] = [];
    const follow = async (into: NodeEventRecord[], host: string | undefined, count: number) => {
      // Another connection's events: SQLite finds them by polling, PostgreSQL is notified.
      for await (const e of reader.followNodeEvents(from, {
        ...(host === undefined ? {} : { host }),
        signal: stop.signal,
        pollMs: 50,
      })) {
        into.push(e);
        if (into.length === count) return;
      }
    };
    const following = Promise.all([follow(seen, undefined, 3), follow(seenWeb1, "web-1", 2)]);
    await writer.recordNodeEvent(event("event-a", "web-1"));
    await writer.recordNodeEvent(event("event-b", "web-2"));
    await writer.recordNodeEvent(event("event-a", "web-1"));
    await writer.recordNodeEvent(event("event-c", "web-1"));
    await following;
    expect(seen.map((e) => e.id)).toEqual(["event-a", "event-b", "event-c"]);
    expect(seenWeb1.map((e) => e.id)).toEqual(["event-a", "event-c"]);
    // A follower that resumes after what it saw finds nothing more, and one aborted ends at once.
    const idle = new AbortController();
    const resumed: NodeEventRecord[] = [];
    const resuming = (async () => {
      for await (const e of reader.followNodeEvents(seen.at(-1)!.seq, { signal: idle.signal }))
        resumed.push(e);
    })();
    idle.abort();
    await resuming;
    expect(resumed).toEqual([]);
    stop.abort();
  });

  it("wakes a follower at once for an event this store keeps, not at its next poll", async () => {
    const store = await fresh();
    const from = await store.latestNodeEventSeq();
    const stop = new AbortController();
    const seen: string[] = [];
    const following = (async () => {
      // An hour between polls: only a wake-up on the write brings the event within the test.
      for await (const e of store.followNodeEvents(from, {
        signal: stop.signal,
        pollMs: 3_600_000,
      })) {
        seen.push(e.id);
        stop.abort();
      }
    })();
    await store.recordNodeEvent(event("event-a", "web-1"));
    await following;
    expect(seen).toEqual(["event-a"]);
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

  it("holds an event that came within the debounce and fires it once when the debounce ends", async () => {
    const [a, b] = await freshTwins();
    await a.recordNodeEvent(event("event-1", "web-1"));
    await a.recordNodeEvent(event("event-2", "web-1", { data: { path: "/etc/nginx/b.conf" } }));
    await a.recordNodeEvent(event("event-3", "web-1", { data: { path: "/etc/nginx/c.conf" } }));
    const key = { rule: "nginx", host: "web-1" };
    const long = { ...key, debounceMs: 3_600_000 };
    expect(await a.claimHeldFiring(long)).toEqual({ kind: "none" });
    const first = await a.claimRuleFiring({ ...long, eventId: "event-1" });
    expect(first).toBeDefined();
    expect(await a.claimRuleFiring({ ...long, eventId: "event-2" })).toBeUndefined();
    const wait = await a.holdRuleEvent({ ...long, eventId: "event-2" });
    expect(wait).toBeGreaterThan(3_000_000);
    // The latest held event replaces an earlier one, whichever process holds it.
    await b.holdRuleEvent({ ...long, eventId: "event-3" });
    expect(await a.heldRuleEvents()).toEqual([key]);
    const early = await b.claimHeldFiring(long);
    expect(early.kind).toBe("wait");
    expect(await a.getRuleFiring("nginx", "web-1")).toMatchObject({ eventId: "event-1" });
    // Once the debounce has passed (0 here), exactly one of the two processes fires it.
    const claims = await Promise.all(
      Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).claimHeldFiring({ ...key, debounceMs: 0 })),
    );
    const fired = claims.filter((c) => c.kind === "fired");
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatchObject({
      firing: { rule: "nginx", host: "web-1", eventId: "event-3", runId: null },
      event: { id: "event-3", data: { path: "/etc/nginx/c.conf" } },
    });
    expect(claims.filter((c) => c.kind !== "fired").every((c) => c.kind === "none")).toBe(true);
    expect(await b.heldRuleEvents()).toEqual([]);
    // A new firing drops a held event: it acts on the newer one.
    await a.holdRuleEvent({ ...long, eventId: "event-2" });
    expect(await a.claimRuleFiring({ ...key, debounceMs: 0, eventId: "event-4" })).toBeDefined();
    expect(await a.heldRuleEvents()).toEqual([]);
    expect(await a.claimHeldFiring({ ...key, debounceMs: 0 })).toEqual({ kind: "none" });
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
