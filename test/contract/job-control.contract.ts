/**
 * The JobControl contract, on every fleet store kind: where one process owns the store (`sole`)
 * everyone who asks drives; otherwise one owner at a time holds the lease, keeps it by asking
 * again, loses it once it has expired on the store's clock, and can hand it back at once.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { expect, it } from "vitest";
import type { FleetFactory, FleetTwinFactory } from "./node-store.contract.js";

export function jobControlContract(fresh: FleetFactory, freshTwins: FleetTwinFactory): void {
  it("grants the lease to one owner at a time (everyone, where one process owns the store)", async () => {
    const [a, b] = await freshTwins();
    expect(await a.control.hold("replica-a", 60_000)).toBe(true);
    expect(await b.control.hold("replica-b", 60_000)).toBe(a.control.sole);
    if (a.control.sole) return;
    // The holder keeps it by asking again; the other keeps being refused.
    expect(await a.control.hold("replica-a", 60_000)).toBe(true);
    expect(await b.control.hold("replica-b", 60_000)).toBe(false);
    expect(await b.control.holder()).toBe("replica-a");
  });

  it("lets another owner take a lease that expired, and one handed back at once", async () => {
    const control = (await fresh()).control;
    if (control.sole) return;
    expect(await control.hold("replica-a", 1)).toBe(true);
    // Expired on the store's clock: taken over; the old holder's renewal is then refused.
    for (let i = 0; i < 100 && (await control.holder()) !== undefined; i++) await sleep(10);
    expect(await control.hold("replica-b", 60_000)).toBe(true);
    expect(await control.hold("replica-a", 60_000)).toBe(false);
    // Handing back is the holder's only: a stranger's release changes nothing.
    await control.release("replica-a");
    expect(await control.holder()).toBe("replica-b");
    await control.release("replica-b");
    expect(await control.holder()).toBeUndefined();
    expect(await control.hold("replica-a", 60_000)).toBe(true);
  });

  it("gives the lease to exactly one of many owners asking at once", async () => {
    const [a, b] = await freshTwins();
    if (a.control.sole) return;
    const owners = Array.from({ length: 8 }, (_, i) => `replica-${i}`);
    const granted = await Promise.all(owners.map((o, i) => (i % 2 ? a : b).control.hold(o, 60_000)));
    expect(granted.filter(Boolean)).toHaveLength(1);
    expect(await a.control.holder()).toBe(owners[granted.indexOf(true)]);
  });
}
