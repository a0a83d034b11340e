/**
 * Chat network leases in a real nats-server's KV bucket: one holder at a time, the feed cursor
 * carried to the next holder, a holder that goes silent (its NATS connection gone) losing the
 * network and another replica taking it after the lease, a clean release handing it over at once;
 * what the network's rooms follow goes with it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openBus } from "../../../src/pipeline/executors/nats-bus.js";
import { openClusterBuckets } from "../../../src/cluster/cluster-buckets.js";
import { KvChatLeaser } from "../../../src/cluster/kv-chat-lease.js";
import { startNatsServer } from "../servers/nats-server.js";
import { eventually } from "../../helpers/net.js";
import type { Bus } from "../../../src/pipeline/executors/nats-bus.js";
import type { NatsServer } from "../servers/nats-server.js";

const LEASE_MS = 3_000;
let server: NatsServer;
const buses: Bus[] = [];

beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await Promise.allSettled(buses.map((b) => b.close()));
  await server?.stop();
});

async function leaser(replica: string, log: string[]): Promise<{ leaser: KvChatLeaser; bus: Bus }> {
  const bus = await openBus({ url: server.url }, replica, (line) => log.push(line));
  buses.push(bus);
  const { chatLeases } = await openClusterBuckets(bus.js);
  return {
    bus,
    leaser: new KvChatLeaser({
      kv: chatLeases,
      replica,
      leaseMs: LEASE_MS,
      latestSeq: async () => 7,
      log: (line) => log.push(`${replica}: ${line}`),
    }),
  };
}

describe("chat network leases (JetStream KV)", () => {
  it("lets one replica hold a network, hands the cursor on, and takes over a silent holder", async () => {
    const log: string[] = [];
    const one = await leaser("one", log);
    const two = await leaser("two", log);
    const never = new AbortController();

    const first = await one.leaser.acquire("net-a", never.signal);
    expect(first?.cursor).toBe(7); // nobody held it: the feed's end
    expect(first?.follows).toEqual([]);
    const follows = [
      {
        place: { room: "#ops", direct: false },
        target: { kind: "host" as const, host: "loki" },
        runId: "r1",
      },
    ];
    first!.setFollows(follows);
    expect(await first!.said(12)).toBe(true);

    // The second replica waits while the first renews (two leases' time: a negative can only be
    // shown by letting time pass).
    const waiting = new AbortController();
    let secondHeld = false;
    const second = two.leaser.acquire("net-a", waiting.signal).then((lease) => {
      secondHeld = true;
      return lease;
    });
    await new Promise((r) => setTimeout(r, LEASE_MS * 2));
    expect(secondHeld).toBe(false);
    expect(first!.lost.aborted).toBe(false);

    // The first goes silent (its NATS connection is gone, as when its process is killed).
    await one.bus.close();
    const taken = await second;
    expect(taken?.cursor).toBe(12);
    expect(taken?.follows).toEqual(follows);
    await eventually(() => (first!.lost.aborted ? true : undefined), 30_000, "the silent holder to lose it");
    expect(log.join("\n")).toMatch(/two: chat net-a: replica one stopped renewing its lease/);

    // A clean release hands the network over without waiting for the lease to run out.
    const three = await leaser("three", log);
    taken!.setFollows([]);
    expect(await taken!.said(20)).toBe(true);
    const next = three.leaser.acquire("net-a", never.signal);
    await taken!.release();
    const handed = await next;
    expect(handed?.cursor).toBe(20);
    expect(handed?.follows).toEqual([]);
    expect(log.join("\n")).not.toMatch(/three: .*stopped renewing/);
    await handed!.release();
  }, 120_000);
});
