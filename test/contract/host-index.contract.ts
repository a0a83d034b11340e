/**
 * The per-host index part of the RunStore contract (registered by run-store.contract.ts): every
 * host with its latest run, current as runs are created, finished, cancelled and retried, paged by
 * host name; and one host's history, paged newest first.
 */
import { expect, it } from "vitest";
import type { NewRun, RunStore } from "../../src/store/run-store.js";

const LEASE = 60_000;
const failure = { name: "RunError", code: "E_TEST", message: "failed" };

function run(host: string, extra: Partial<NewRun> = {}): NewRun {
  return {
    host,
    pipeline: "p",
    pipelineJson: "{}",
    totalSteps: 1,
    requestedBy: "test:contract",
    origin: "cli",
    source: `${host}.yml`,
    clipboardYaml: "a: 1\n",
    stepNames: ["ok:a"],
    ...extra,
  };
}

/** Create a run held by `owner` and finish it in `state`. */
async function finished(store: RunStore, host: string, state: "succeeded" | "failed"): Promise<string> {
  const created = await store.createRun(run(host, { lease: { owner: "o", leaseMs: LEASE } }));
  await store.finishIfOwner(
    { runId: created.id, owner: "o" },
    { state, error: state === "failed" ? failure : null },
  );
  return created.id;
}

/** The index's cases, on stores that `fresh` opens empty. */
export function hostIndexContract(fresh: () => Promise<RunStore>): void {
  it("lists every host once with its latest run, current as its runs change", async () => {
    const store = await fresh();
    expect(await store.listHosts({})).toEqual({ hosts: [], next: null, total: 0 });
    await finished(store, "loki", "succeeded");
    const failedId = await finished(store, "loki", "failed");
    const queued = await store.createRun(run("thor"));
    let page = await store.listHosts({});
    expect(page.total).toBe(2);
    expect(page.hosts.map((h) => [h.host, h.latest.id, h.latest.state, h.runCount])).toEqual([
      ["loki", failedId, "failed", 2],
      ["thor", queued.id, "queued", 1],
    ]);
    await store.claim(queued.id, "o", LEASE);
    expect((await store.listHosts({})).hosts[1]!.latest.state).toBe("running");
    await store.finishIfOwner({ runId: queued.id, owner: "o" }, { state: "succeeded", error: null });
    await store.retryRun({
      runId: failedId,
      from: 0,
      steps: [{ name: "ok:a", onFailure: false }],
      requestedBy: "test:other",
      origin: "cli",
      forced: false,
    });
    page = await store.listHosts({});
    expect(page.hosts.map((h) => [h.host, h.latest.state, h.latest.requestedBy])).toEqual([
      ["loki", "queued", "test:other"],
      ["thor", "succeeded", "test:contract"],
    ]);
    const cancelled = await store.cancelIfQueued(failedId, failure);
    expect(cancelled.outcome).toBe("cancelled");
    expect((await store.listHosts({})).hosts[0]!.latest.state).toBe("cancelled");
  });

  it("pages hosts by name with a keyset cursor, each host exactly once", async () => {
    const store = await fresh();
    const names = Array.from({ length: 25 }, (_, i) => `h${String(i).padStart(2, "0")}`);
    for (const host of [...names].reverse()) await store.createRun(run(host));
    const seen: string[] = [];
    let after: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = await store.listHosts({ limit: 10, ...(after === undefined ? {} : { after }) });
      expect(page.total).toBe(25);
      seen.push(...page.hosts.map((h) => h.host));
      if (page.next === null) break;
      after = page.next;
    }
    expect(seen).toEqual(names);
    expect((await store.listHosts({ after: "h23" })).hosts.map((h) => h.host)).toEqual(["h24"]);
  });

  it("pages one host's history newest first, and refuses a cursor that is no run of it", async () => {
    const store = await fresh();
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push(await finished(store, "loki", "succeeded"));
    await finished(store, "thor", "succeeded");
    const seen: string[] = [];
    let before: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = await store.hostHistory("loki", { limit: 3, ...(before === undefined ? {} : { before }) });
      expect(page.runs.every((r) => r.host === "loki")).toBe(true);
      seen.push(...page.runs.map((r) => r.id));
      if (page.next === null) break;
      before = page.next;
    }
    expect([...seen].sort()).toEqual([...ids].sort());
    expect(new Set(seen).size).toBe(7);
    const created = await Promise.all(seen.map(async (id) => (await store.getRun(id))!.createdAt));
    expect(created).toEqual([...created].sort((a, b) => b - a));
    expect(seen[0]).toBe(ids.at(-1));
    const other = (await store.hostHistory("thor", {})).runs[0]!.id;
    await expect(store.hostHistory("loki", { before: other })).rejects.toMatchObject({
      code: "E_RUN_NOT_FOUND",
    });
    expect(await store.hostHistory("nobody", {})).toEqual({ runs: [], next: null });
  });
}
