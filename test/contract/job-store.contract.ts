/**
 * The JobStore contract, run on every fleet store kind: every change fenced by the state it
 * expects, each numbered with its event in the same write, keyset pages (by host, by the hosts a
 * selector matched, by the selector a job was made with), the fenced delete; the twin cases are
 * two replicas on one database racing for the same change.
 */
import { expect, it } from "vitest";
import type { JobRecord } from "../../src/jobs/job.js";
import type { JobCursor, JobQuery, JobStore } from "../../src/jobs/job-store.js";
import type { FleetFactory, FleetTwinFactory } from "./node-store.contract.js";

function job(id: string, createdAt: number, where?: string): JobRecord {
  return {
    id,
    createdAt,
    finishedAt: null,
    requester: "test",
    operation: { kind: "execute", command: "true" },
    targets: where === undefined ? { words: ["a", "b*"] } : { words: [], where },
    options: { timeoutMs: 1000, ttlMs: 1000, batch: { percent: 50 } },
    state: "running",
    rerunOf: null,
  };
}

async function withJobs(jobs: JobStore, ...list: [JobRecord, string[]][]): Promise<JobStore> {
  for (const [j, hosts] of list)
    await jobs.createJob(
      j,
      hosts.map((host) => ({ host, requestId: `${j.id}-${host}` })),
    );
  return jobs;
}

export function jobStoreContract(fresh: FleetFactory, freshTwins: FleetTwinFactory): void {
  it("keeps a job with its nodes in order, each found by its request on its own host only", async () => {
    const jobs = await withJobs((await fresh()).jobs, [{ ...job("j1", 7), rerunOf: "j0" }, ["b", "a"]]);
    expect(await jobs.getJob("j1")).toEqual({ ...job("j1", 7), rerunOf: "j0" });
    expect(await jobs.getJob("nope")).toBeUndefined();
    const nodes = await jobs.jobNodes("j1");
    expect(nodes.map((n) => [n.host, n.position, n.requestId, n.state])).toEqual([
      ["b", 0, "j1-b", "queued"],
      ["a", 1, "j1-a", "queued"],
    ]);
    expect(nodes[0]).toMatchObject({ sentAt: null, exitCode: null, stdoutTail: "", message: "" });
    expect(await jobs.nodeByRequest("a", "j1-a")).toMatchObject({ jobId: "j1", host: "a" });
    expect(await jobs.nodeByRequest("b", "j1-a")).toBeUndefined();
  });

  it("applies many fenced updates in order in one call, each on the state the one before left", async () => {
    const jobs = await withJobs((await fresh()).jobs, [job("j1", 1), ["a", "b"]]);
    const moved = await jobs.updateNodes([
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
    const nodes = await jobs.jobNodes("j1");
    expect(nodes.map((n) => [n.host, n.state, n.receivedAt, n.streamSeq])).toEqual([
      ["a", "ok", 5, null],
      ["b", "queued", null, 42],
    ]);
    const events = await jobs.jobEvents("j1", 0, 100);
    expect(events.filter((e) => e.host === "a").map((e) => e.state)).toEqual([
      "queued",
      "received",
      "running",
      "ok",
    ]);
    expect(await jobs.updateNodes([])).toEqual([]);
  });

  it("numbers every state change that happened, refuses late replies by `from`, resumes by seq", async () => {
    const jobs = await withJobs((await fresh()).jobs, [job("j1", 1), ["a", "b"]]);
    expect(await jobs.updateNode("j1", "a", ["queued"], { state: "received", receivedAt: 5 })).toBe(true);
    // A late ACK: the node is no longer queued, so nothing changes and no event is written.
    expect(await jobs.updateNode("j1", "a", ["queued"], { state: "received", receivedAt: 6 })).toBe(false);
    // A change without a new state is fenced too, and writes no event.
    expect(await jobs.updateNode("j1", "a", ["queued", "received"], { sentAt: 7, streamSeq: 42 })).toBe(true);
    expect(await jobs.updateNode("j1", "a", [], { sentAt: 8 })).toBe(false);
    expect(await jobs.updateNode("j1", "a", ["received"], {})).toBe(false);
    expect(
      await jobs.updateNode("j1", "a", ["received"], {
        state: "ok",
        exitCode: 0,
        finishedAt: 9,
        message: "m",
        stdoutTail: "out\n",
        stderrTail: "err\n",
      }),
    ).toBe(true);
    expect(await jobs.updateNode("j1", "a", ["queued", "received", "running"], { state: "failed" })).toBe(
      false,
    );
    expect(await jobs.updateNode("nope", "a", ["queued"], { state: "received" })).toBe(false);
    expect(await jobs.setJobState("j1", ["done"], "failure", 10)).toBe(false);
    expect(await jobs.setJobState("j1", ["running"], "done", 10)).toBe(true);
    expect(await jobs.getJob("j1")).toMatchObject({ state: "done", finishedAt: 10 });
    expect((await jobs.jobNodes("j1"))[0]).toMatchObject({
      state: "ok",
      receivedAt: 5,
      sentAt: 7,
      streamSeq: 42,
      finishedAt: 9,
      exitCode: 0,
      stdoutTail: "out\n",
      stderrTail: "err\n",
      message: "m",
    });
    const events = await jobs.jobEvents("j1", 0, 100);
    expect(events.map((e) => [e.jobId, e.host, e.state, e.final])).toEqual([
      ["j1", null, "running", false],
      ["j1", "a", "queued", false],
      ["j1", "b", "queued", false],
      ["j1", "a", "received", false],
      ["j1", "a", "ok", false],
      ["j1", null, "done", true],
    ]);
    expect(events[4]).toMatchObject({ exitCode: 0, message: "m", at: 9 });
    expect(events[5]).toMatchObject({ at: 10, exitCode: null });
    const seqs = events.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect((await jobs.jobEvents("j1", events[3]!.seq, 100)).map((e) => e.state)).toEqual(["ok", "done"]);
    expect((await jobs.jobEvents("j1", 0, 2)).map((e) => e.seq)).toEqual(seqs.slice(0, 2));
    expect(await jobs.jobEvents("j1", events[5]!.seq, 100)).toEqual([]);
  });

  it("keeps a cancelled job running until it has ended, and lists such jobs as running", async () => {
    const jobs = await withJobs(
      (await fresh()).jobs,
      [job("run", 1), ["a"]],
      [job("cancel", 2), ["a"]],
      [job("done", 3), ["a"]],
    );
    expect(await jobs.setJobState("cancel", ["running"], "cancelled", null)).toBe(true);
    expect(await jobs.setJobState("done", ["running"], "done", 4)).toBe(true);
    expect((await jobs.runningJobs()).map((j) => j.id).sort()).toEqual(["cancel", "run"]);
    const cancelled = await jobs.jobEvents("cancel", 0, 10);
    expect(cancelled.at(-1)).toMatchObject({ state: "cancelled", final: false });
    expect(await jobs.setJobState("cancel", ["running", "cancelled"], "cancelled", 5)).toBe(true);
    expect((await jobs.jobEvents("cancel", 0, 10)).at(-1)).toMatchObject({ final: true, at: 5 });
    expect((await jobs.runningJobs()).map((j) => j.id)).toEqual(["run"]);
  });

  it("pages newest first by a cursor: all, by host, by the hosts a selector matched, by selector", async () => {
    const jobs = await withJobs(
      (await fresh()).jobs,
      [job("j1", 1, "group=web"), ["a"]],
      [job("j2", 2), ["b"]],
      [job("j3", 2, "group=web"), ["a", "c"]],
      [job("j4", 3, "os.family=debian"), ["a", "b"]],
      [job("j5", 4, "group=web and os.family=debian"), ["c"]],
    );
    const ids = async (query: Omit<JobQuery, "limit">, limit = 10) =>
      (await jobs.listJobs({ limit, ...query })).map((j) => j.id);
    const after = (createdAt: number, id: string): { before: JobCursor } => ({ before: { createdAt, id } });
    expect(await ids({})).toEqual(["j5", "j4", "j3", "j2", "j1"]);
    expect(await ids({}, 2)).toEqual(["j5", "j4"]);
    expect(await ids(after(2, "j3"), 2)).toEqual(["j2", "j1"]);
    expect(await ids({ hosts: ["a"] })).toEqual(["j4", "j3", "j1"]);
    expect(await ids({ hosts: ["a"], ...after(3, "j4") })).toEqual(["j3", "j1"]);
    expect(await ids({ hosts: ["b", "c"] })).toEqual(["j5", "j4", "j3", "j2"]);
    expect(await ids({ hosts: ["c", "b"], ...after(2, "j3") })).toEqual(["j2"]);
    expect(await ids({ hosts: [] })).toEqual([]);
    expect(await ids({ hosts: ["nobody"] })).toEqual([]);
    expect(await ids({ selector: "group=web" })).toEqual(["j3", "j1"]);
    expect(await ids({ selector: "group=web", ...after(2, "j3") })).toEqual(["j1"]);
    expect(await ids({ selector: "group=web and os.family=debian" })).toEqual(["j5"]);
    expect(await ids({ selector: "group=db" })).toEqual([]);
    expect(await ids({ selector: "group=web", hosts: ["c"] })).toEqual(["j3"]);
  });

  it("deletes an ended job with its nodes and events, never a running one", async () => {
    const jobs = await withJobs((await fresh()).jobs, [job("j1", 1), ["a"]], [job("j2", 2), ["a"]]);
    expect(await jobs.deleteJob("j1")).toBe(false);
    expect(await jobs.getJob("j1")).toBeDefined();
    await jobs.setJobState("j1", ["running"], "cancelled", null);
    expect(await jobs.deleteJob("j1")).toBe(false);
    await jobs.setJobState("j1", ["cancelled"], "cancelled", 4);
    expect(await jobs.deleteJob("j1")).toBe(true);
    expect(await jobs.getJob("j1")).toBeUndefined();
    expect(await jobs.jobNodes("j1")).toEqual([]);
    expect(await jobs.jobEvents("j1", 0, 10)).toEqual([]);
    expect(await jobs.nodeByRequest("a", "j1-a")).toBeUndefined();
    expect(await jobs.deleteJob("j1")).toBe(false);
    expect(await jobs.jobNodes("j2")).toHaveLength(1);
  });

  it("lets only one of two replicas move a node or a job, and numbers a job's events in order", async () => {
    const [a, b] = await freshTwins();
    const hosts = Array.from({ length: 20 }, (_, i) => `n${String(i).padStart(2, "0")}`);
    await withJobs(a.jobs, [job("j1", 1), hosts]);
    // Both replicas hear the same ACK for every node, at once: each node is received once.
    const acks = await Promise.all(
      hosts.flatMap((host) =>
        [a, b].map((replica) =>
          replica.jobs.updateNode("j1", host, ["queued"], { state: "received", receivedAt: 2 }),
        ),
      ),
    );
    expect(acks.filter(Boolean)).toHaveLength(hosts.length);
    const results = await Promise.all(
      hosts.flatMap((host, i) =>
        [a, b].map((replica) =>
          replica.jobs.updateNode("j1", host, ["received"], {
            state: i % 2 === 0 ? "ok" : "failed",
            finishedAt: 3,
            exitCode: i % 2,
          }),
        ),
      ),
    );
    expect(results.filter(Boolean)).toHaveLength(hosts.length);
    const ended = await Promise.all([
      a.jobs.setJobState("j1", ["running"], "failure", 4),
      b.jobs.setJobState("j1", ["running"], "done", 4),
    ]);
    expect(ended.filter(Boolean)).toHaveLength(1);
    const events = await b.jobs.jobEvents("j1", 0, 1000);
    expect(events).toHaveLength(1 + hosts.length * 3 + 1);
    const seqs = events.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(new Set(seqs).size).toBe(seqs.length);
    for (const host of hosts)
      expect(events.filter((e) => e.host === host).map((e) => e.state)).toEqual([
        "queued",
        "received",
        expect.stringMatching(/^(ok|failed)$/),
      ]);
    expect(events.at(-1)).toMatchObject({ host: null, final: true });
    // Resumed after any event, a follower reads exactly what followed it.
    for (const [i, event] of events.entries())
      expect((await a.jobs.jobEvents("j1", event.seq, 1000)).map((e) => e.seq)).toEqual(seqs.slice(i + 1));
  });
}
