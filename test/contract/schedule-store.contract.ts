/**
 * The schedule part of the RunStore contract (registered by run-store.contract.ts): schedules are
 * durable, due by the store's clock, and each occurrence is claimed by exactly one caller.
 */
import { expect, it } from "vitest";
import type { RunStore } from "../../src/store/run-store.js";
import type { NewSchedule } from "../../src/store/schedule-store.js";

function schedule(extra: Partial<NewSchedule> = {}): NewSchedule {
  return {
    pipeline: "deploy",
    source: "cn=loki",
    timing: { kind: "cron", cron: "0 3 * * 0", timezone: "Europe/Berlin" },
    misfire: "once",
    force: false,
    createdBy: "irc:alice",
    origin: "irc:#ops",
    fileAccess: "designs-dirs",
    nextAt: 1_000,
    ...extra,
  };
}

/** The schedule cases, on stores that `fresh` opens empty. */
export function scheduleStoreContract(fresh: () => Promise<RunStore>): void {
  it("keeps schedules, lists them oldest first, and deletes them", async () => {
    const store = await fresh();
    const cron = await store.createSchedule(schedule());
    const at = await store.createSchedule(
      schedule({ timing: { kind: "at", at: 5_000 }, misfire: "skip", force: true, nextAt: 5_000 }),
    );
    expect(cron).toMatchObject({ ...schedule(), last: null });
    expect(cron.id).not.toBe(at.id);
    expect(await store.getSchedule(at.id)).toMatchObject({
      timing: { kind: "at", at: 5_000 },
      misfire: "skip",
      force: true,
    });
    expect((await store.listSchedules()).map((s) => s.id)).toEqual([cron.id, at.id]);
    expect(await store.deleteSchedule(cron.id)).toBe(true);
    expect(await store.deleteSchedule(cron.id)).toBe(false);
    expect(await store.getSchedule(cron.id)).toBeUndefined();
  });

  it("is due by the store's clock, and gives each occurrence to exactly one claimer", async () => {
    const store = await fresh();
    const now = await store.now();
    const due = await store.createSchedule(schedule({ nextAt: now - 1_000 }));
    await store.createSchedule(schedule({ nextAt: now + 3_600_000 }));
    await store.createSchedule(schedule({ nextAt: null }));
    expect((await store.dueSchedules()).map((s) => s.id)).toEqual([due.id]);
    const claim = (owner: string) =>
      store.claimOccurrence({
        scheduleId: due.id,
        expectedNextAt: now - 1_000,
        nextAt: now + 60_000,
        owner,
        occurrence: { at: now - 1_000, late: false, missedBefore: 0, action: "run" },
      });
    const results = await Promise.all([claim("a"), claim("b"), claim("c")]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await store.dueSchedules()).toEqual([]);
    const after = (await store.getSchedule(due.id))!;
    expect(after.nextAt).toBe(now + 60_000);
    expect(after.last).toMatchObject({ at: now - 1_000, action: "run", runId: null, late: false });
    await store.recordOccurrenceResult(due.id, now - 1_000, { runId: "r1" });
    expect((await store.getSchedule(due.id))!.last).toMatchObject({ runId: "r1", error: null });
  });

  it("records a missed occurrence once and never claims an occurrence already recorded", async () => {
    const store = await fresh();
    const s = await store.createSchedule(schedule({ nextAt: 1_000 }));
    const first = {
      scheduleId: s.id,
      expectedNextAt: 1_000,
      nextAt: 1_000,
      owner: "a",
      occurrence: { at: 1_000, late: true, missedBefore: 4, action: "skip" as const },
    };
    // A claim that does not move the schedule on (nextAt = the same time) cannot handle it twice.
    expect(await store.claimOccurrence(first)).toBe(true);
    expect(await store.claimOccurrence({ ...first, owner: "b" })).toBe(false);
    expect((await store.getSchedule(s.id))!.nextAt).toBe(1_000);
    expect(
      await store.claimOccurrence({
        ...first,
        expectedNextAt: 2_000,
        occurrence: { ...first.occurrence, at: 2_000 },
      }),
    ).toBe(false);
    await store.recordOccurrenceResult(s.id, 1_000, { error: "loki already has run x" });
    expect(await store.listOccurrences(s.id, 10)).toEqual([
      expect.objectContaining({
        at: 1_000,
        late: true,
        missedBefore: 4,
        action: "skip",
        handledBy: "a",
        error: "loki already has run x",
      }),
    ]);
  });
}
