/**
 * The NodeStore contract (the agents' nodes: liveness, facts and their history), run on every
 * fleet store kind; the twin cases are two processes (two replicas) on one database.
 */
import { expect, it } from "vitest";
import type { FleetStore } from "../../src/nodes/fleet-store.js";
import type { FactsWrite, HeartbeatWrite } from "../../src/nodes/node-store.js";

export type FleetFactory = () => Promise<FleetStore>;
export type FleetTwinFactory = () => Promise<[FleetStore, FleetStore]>;

function beat(host: string, at: number, extra: Partial<HeartbeatWrite> = {}): HeartbeatWrite {
  return { host, at, agentVersion: "1.0.0", groups: ["web"], offlineAfterMs: 1_000, ...extra };
}

function facts(host: string, at: number, hash: string, extra: Partial<FactsWrite> = {}): FactsWrite {
  return { host, at, hash, groups: ["web"], facts: { os: { family: "debian" }, hash }, ...extra };
}

export function nodeStoreContract(fresh: FleetFactory, freshTwins: FleetTwinFactory): void {
  it("keeps each node's liveness from heartbeats, never moving last seen back", async () => {
    const { nodes } = await fresh();
    expect(await nodes.list()).toEqual([]);
    expect(await nodes.get("web-1")).toBeUndefined();
    await nodes.recordHeartbeat(beat("web-2", 2_000));
    await nodes.recordHeartbeat(beat("web-1", 5_000, { agentVersion: "1.1.0", groups: ["web", "eu"] }));
    await nodes.recordHeartbeat(beat("web-1", 4_000, { agentVersion: "1.2.0" }));
    expect(await nodes.get("web-1")).toEqual({
      host: "web-1",
      groups: ["web"],
      online: true,
      lastSeen: 5_000,
      agentVersion: "1.2.0",
      facts: {},
    });
    expect((await nodes.list()).map((n) => n.host)).toEqual(["web-1", "web-2"]);
  });

  it("records a tick's heartbeats at once as one after the other would", async () => {
    const { nodes } = await fresh();
    await nodes.recordHeartbeats([]);
    await nodes.recordHeartbeat(beat("web-1", 9_000, { agentVersion: "1.0.0" }));
    await nodes.recordHeartbeats([
      beat("web-2", 2_000),
      beat("web-1", 5_000, { agentVersion: "1.1.0", groups: ["web", "eu"] }),
      beat("web-2", 3_000, { agentVersion: "1.3.0" }),
      beat("web-2", 2_500, { agentVersion: "1.4.0" }),
    ]);
    expect(await nodes.get("web-1")).toMatchObject({
      lastSeen: 9_000,
      agentVersion: "1.1.0",
      groups: ["web", "eu"],
    });
    expect(await nodes.get("web-2")).toMatchObject({ online: true, lastSeen: 3_000, agentVersion: "1.4.0" });
  });

  it("keeps facts only when their hash changes, with their history newest first", async () => {
    const { nodes } = await fresh();
    expect(await nodes.recordFacts(facts("db-1", 1_000, "h1"))).toBe(true);
    expect(await nodes.recordFacts(facts("db-1", 2_000, "h1"))).toBe(false);
    expect(await nodes.recordFacts(facts("db-1", 3_000, "h2", { groups: ["db"] }))).toBe(true);
    // Two versions in the same ms keep the order they came in.
    expect(await nodes.recordFacts(facts("db-1", 3_000, "h3", { groups: ["db"] }))).toBe(true);
    expect(await nodes.recordFacts(facts("other", 3_000, "h9"))).toBe(true);
    const history = await nodes.factsHistory("db-1", 10);
    expect(history.map((v) => [v.at, v.hash])).toEqual([
      [3_000, "h3"],
      [3_000, "h2"],
      [1_000, "h1"],
    ]);
    expect(history[0]!.facts).toEqual({ os: { family: "debian" }, hash: "h3" });
    expect((await nodes.factsHistory("db-1", 1)).map((v) => v.hash)).toEqual(["h3"]);
    expect(await nodes.factsHistory("nobody", 10)).toEqual([]);
    // Facts before any heartbeat: a node, offline until it beats.
    expect(await nodes.get("db-1")).toMatchObject({
      groups: ["db"],
      online: false,
      lastSeen: null,
      facts: { hash: "h3" },
    });
  });

  it("marks offline only the nodes silent past their limit, each once", async () => {
    const { nodes } = await fresh();
    await nodes.recordHeartbeat(beat("quiet", 1_000));
    await nodes.recordHeartbeat(beat("busy", 1_800));
    await nodes.recordHeartbeat(beat("patient", 1_000, { offlineAfterMs: 60_000 }));
    expect(await nodes.markSilentOffline(2_500)).toEqual(["quiet"]);
    expect(await nodes.markSilentOffline(2_500)).toEqual([]);
    expect(await nodes.get("quiet")).toMatchObject({ online: false, lastSeen: 1_000 });
    expect((await nodes.get("busy"))?.online).toBe(true);
    await nodes.recordHeartbeat(beat("quiet", 3_000));
    expect((await nodes.get("quiet"))?.online).toBe(true);
  });

  it("lists only the hosts that are offline", async () => {
    const { nodes } = await fresh();
    expect(await nodes.offlineHosts()).toEqual([]);
    await nodes.recordHeartbeat(beat("web-2", 1_000));
    await nodes.recordHeartbeat(beat("web-1", 1_000));
    await nodes.recordHeartbeat(beat("db-1", 1_900));
    await nodes.markSilentOffline(2_500);
    expect(await nodes.offlineHosts()).toEqual(["web-1", "web-2"]);
    await nodes.recordHeartbeat(beat("web-2", 3_000));
    expect(await nodes.offlineHosts()).toEqual(["web-1"]);
  });

  it("lets one of two replicas keep the same facts and mark a silent node offline", async () => {
    const [a, b] = await freshTwins();
    const kept = await Promise.all([
      a.nodes.recordFacts(facts("web-1", 1_000, "same")),
      b.nodes.recordFacts(facts("web-1", 1_000, "same")),
    ]);
    expect(kept.filter(Boolean)).toHaveLength(1);
    expect(await a.nodes.factsHistory("web-1", 10)).toHaveLength(1);
    await a.nodes.recordHeartbeat(beat("web-1", 1_000));
    const marked = await Promise.all([a.nodes.markSilentOffline(5_000), b.nodes.markSilentOffline(5_000)]);
    expect(marked.flat()).toEqual(["web-1"]);
  });
}
