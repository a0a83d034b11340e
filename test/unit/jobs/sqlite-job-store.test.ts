/**
 * The job store's event log (each state change numbered with the change, in one transaction), its
 * keyset pages and the fenced delete, on a real SQLite database.
 */
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { SqliteJobStore } from "../../../src/jobs/sqlite-job-store.js";
import type { JobRecord } from "../../../src/jobs/job.js";

function job(id: string, createdAt: number): JobRecord {
  return {
    id,
    createdAt,
    finishedAt: null,
    requester: "test",
    operation: { kind: "ping" },
    targets: { words: [], where: "group=web" },
    options: { timeoutMs: 1000, ttlMs: 1000 },
    state: "running",
    rerunOf: null,
  };
}

async function storeWith(...jobs: [JobRecord, string[]][]): Promise<SqliteJobStore> {
  const store = new SqliteJobStore(new Database(":memory:"));
  for (const [j, hosts] of jobs)
    await store.createJob(
      j,
      hosts.map((host) => ({ host, requestId: `${j.id}-${host}` })),
    );
  return store;
}

describe("SqliteJobStore", () => {
  it("applies many fenced updates in order in one call, each compare-and-set on the state the one before left", async () => {
    const store = await storeWith([job("j1", 1), ["a", "b"]]);
    const moved = await store.updateNodes([
      { jobId: "j1", host: "a", from: ["queued"], patch: { state: "received", receivedAt: 5 } },
      { jobId: "j1", host: "a", from: ["queued", "received"], patch: { state: "running" } },
      // A second ACK of a: fenced off, no event.
      { jobId: "j1", host: "a", from: ["queued"], patch: { state: "received", receivedAt: 6 } },
      { jobId: "j1", host: "a", from: ["running"], patch: { state: "ok", exitCode: 0, finishedAt: 8 } },
      // b is still queued: a result fenced on running does not apply.
      { jobId: "j1", host: "b", from: ["running"], patch: { state: "ok", finishedAt: 8 } },
      { jobId: "j1", host: "b", from: ["queued"], patch: { sentAt: 3, streamSeq: 42 } },
    ]);
    expect(moved).toEqual([true, true, false, true, false, true]);
    const nodes = await store.jobNodes("j1");
    expect(nodes.map((n) => [n.host, n.state, n.receivedAt, n.streamSeq])).toEqual([
      ["a", "ok", 5, null],
      ["b", "queued", null, 42],
    ]);
    const events = await store.jobEvents("j1", 0, 100);
    expect(events.filter((e) => e.host === "a").map((e) => e.state)).toEqual([
      "queued",
      "received",
      "running",
      "ok",
    ]);
    expect(await store.updateNodes([])).toEqual([]);
  });

  it("numbers every state change that happened, and none that was fenced off", async () => {
    const store = await storeWith([job("j1", 1), ["a", "b"]]);
    expect(await store.updateNode("j1", "a", ["queued"], { state: "received", receivedAt: 5 })).toBe(true);
    // A late ACK: the node is no longer queued, so nothing changes and no event is written.
    expect(await store.updateNode("j1", "a", ["queued"], { state: "received", receivedAt: 6 })).toBe(false);
    expect(await store.updateNode("j1", "a", ["queued", "received"], { sentAt: 7 })).toBe(true);
    await store.updateNode("j1", "a", ["received"], {
      state: "ok",
      exitCode: 0,
      finishedAt: 9,
      message: "m",
    });
    await store.setJobState("j1", ["running"], "done", 10);
    const events = await store.jobEvents("j1", 0, 100);
    expect(events.map((e) => [e.host, e.state, e.final])).toEqual([
      [null, "running", false],
      ["a", "queued", false],
      ["b", "queued", false],
      ["a", "received", false],
      ["a", "ok", false],
      [null, "done", true],
    ]);
    expect(events[4]).toMatchObject({ exitCode: 0, message: "m", at: 9 });
    const after = await store.jobEvents("j1", events[3]!.seq, 100);
    expect(after.map((e) => e.state)).toEqual(["ok", "done"]);
  });

  it("pages newest first by a cursor, also for one host", async () => {
    const store = await storeWith(
      [job("j1", 1), ["a"]],
      [job("j2", 2), ["b"]],
      [job("j3", 2), ["a"]],
      [job("j4", 3), ["a", "b"]],
    );
    const ids = async (limit: number, host?: string, before?: { createdAt: number; id: string }) =>
      (await store.listJobs(limit, host, before)).map((j) => j.id);
    expect(await ids(10)).toEqual(["j4", "j3", "j2", "j1"]);
    expect(await ids(2, undefined, { createdAt: 2, id: "j3" })).toEqual(["j2", "j1"]);
    expect(await ids(10, "a")).toEqual(["j4", "j3", "j1"]);
    expect(await ids(10, "a", { createdAt: 3, id: "j4" })).toEqual(["j3", "j1"]);
  });

  it("deletes an ended job with its nodes and events, never a running one", async () => {
    const store = await storeWith([job("j1", 1), ["a"]]);
    expect(await store.deleteJob("j1")).toBe(false);
    expect(await store.getJob("j1")).toBeDefined();
    await store.setJobState("j1", ["running"], "cancelled", 4);
    expect(await store.deleteJob("j1")).toBe(true);
    expect(await store.getJob("j1")).toBeUndefined();
    expect(await store.jobNodes("j1")).toEqual([]);
    expect(await store.jobEvents("j1", 0, 10)).toEqual([]);
    expect(await store.deleteJob("j1")).toBe(false);
  });
});
