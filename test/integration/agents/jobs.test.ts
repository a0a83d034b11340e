/**
 * Jobs over a dozen agent processes on a real nats-server: a node offline at the start runs its
 * part when it comes back within the TTL and expires past it; an agent killed mid-job ends
 * unreachable, one only late with its heartbeats does not; rerun takes only the failed nodes;
 * batches with max_failures; cancel.
 */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../helpers/net.js";
import { startFleet } from "./fleet.js";
import type { Fleet } from "./fleet.js";
import type { JobOperation, JobOptions, NodeJobState } from "../../../src/jobs/job.js";

const hosts = Array.from({ length: 12 }, (_, i) => `node-${String(i + 1).padStart(2, "0")}`);
const late = "node-12";
let fleet: Fleet;

beforeAll(async () => {
  fleet = await startFleet({
    hosts,
    startNow: hosts.filter((h) => h !== late),
    agentYml: () => "facts: {system: false}\nallow: {operations: [ping, execute, cancel]}",
  });
  await eventually(
    async () => ((await fleet.store.nodes.list()).filter((n) => n.online).length === 11 ? true : undefined),
    120_000,
    "11 agents online",
  );
});
afterAll(async () => fleet?.close());

const failOn = (host: string): void => writeFileSync(join(fleet.agents.get(host)!.dir, "fail"), "");
const healOn = (host: string): void => rmSync(join(fleet.agents.get(host)!.dir, "fail"), { force: true });

async function submit(operation: JobOperation, on: string[], options: Partial<JobOptions> = {}) {
  return fleet.controller.submit({
    operation,
    hosts: on,
    targets: { words: on },
    options: { timeoutMs: 60_000, ttlMs: 120_000, ...options },
    requester: "test",
  });
}

async function states(jobId: string): Promise<Record<string, NodeJobState>> {
  const { nodes } = await fleet.controller.get(jobId);
  return Object.fromEntries(nodes.map((n) => [n.host, n.state]));
}

const open = (s: NodeJobState | undefined): boolean => s === "queued" || s === "received" || s === "running";

describe("a job", () => {
  it("waits for an offline node within its TTL, and rerun takes only the failed nodes", async () => {
    failOn("node-03");
    failOn("node-07");
    const job = await submit({ kind: "execute", command: "test ! -e fail" }, hosts);
    await eventually(
      async () => {
        const s = await states(job.id);
        return hosts.filter((h) => h !== late).every((h) => !open(s[h])) ? s : undefined;
      },
      120_000,
      "every online node finished",
    );
    expect((await states(job.id))[late]).toBe("queued");
    fleet.agents.get(late)!.start();
    const done = await fleet.controller.waitDone(job.id);
    expect(done.state).toBe("failure");
    const s = await states(job.id);
    expect(s[late]).toBe("changed");
    expect(
      Object.entries(s)
        .filter(([, v]) => v === "failed")
        .map(([h]) => h),
    ).toEqual(["node-03", "node-07"]);

    healOn("node-03");
    healOn("node-07");
    const rerun = await fleet.controller.rerun(job.id, "failed", "test");
    expect(rerun.rerunOf).toBe(job.id);
    expect((await fleet.controller.waitDone(rerun.id)).state).toBe("done");
    expect(await states(rerun.id)).toEqual({ "node-03": "changed", "node-07": "changed" });
  });

  it("expires a node that stays offline past the TTL", async () => {
    await fleet.agents.get(late)!.stop();
    await eventually(
      async () => ((await fleet.store.nodes.get(late))?.online === false ? true : undefined),
      60_000,
      `${late} offline`,
    );
    const job = await submit({ kind: "ping" }, ["node-01", late], { ttlMs: 3000 });
    expect((await fleet.controller.waitDone(job.id)).state).toBe("failure");
    expect(await states(job.id)).toEqual({ "node-01": "ok", [late]: "expired" });
  });

  it("marks a node unreachable when its agent dies mid-job", async () => {
    const job = await submit({ kind: "execute", command: "sleep 20" }, ["node-05"]);
    await eventually(
      async () => ((await states(job.id))["node-05"] === "running" ? true : undefined),
      60_000,
      "node-05 running",
    );
    await fleet.agents.get("node-05")!.kill();
    await fleet.controller.waitDone(job.id);
    const { nodes } = await fleet.controller.get(job.id);
    expect(nodes[0]).toMatchObject({ state: "unreachable", message: expect.stringMatching(/offline/) });
  });

  it("keeps waiting for a node that is late with its heartbeats but still connected, and takes its result", async () => {
    // A stopped process keeps its socket: it stands for an agent too busy to heartbeat (one
    // emulator process spawning for hundreds of agents, a host under load), not a gone one.
    const agent = fleet.agents.get("node-09")!.child!;
    const job = await submit({ kind: "execute", command: "sleep 1" }, ["node-09"]);
    await eventually(
      async () => ((await states(job.id))["node-09"] === "running" ? true : undefined),
      60_000,
      "node-09 running",
    );
    agent.kill("SIGSTOP");
    try {
      await eventually(
        async () => ((await fleet.store.nodes.get("node-09"))?.online === false ? true : undefined),
        60_000,
        "node-09 counted offline",
      );
    } finally {
      agent.kill("SIGCONT");
    }
    expect((await fleet.controller.waitDone(job.id)).state).toBe("done");
    expect(await states(job.id)).toEqual({ "node-09": "changed" });
  });

  it("runs in batches and skips the rest once max_failures is passed", async () => {
    failOn("node-03");
    const on = ["node-01", "node-02", "node-03", "node-04", "node-06", "node-08"];
    const job = await submit({ kind: "execute", command: "test ! -e fail" }, on, {
      batch: { count: 2 },
      maxFailures: 0,
    });
    expect((await fleet.controller.waitDone(job.id)).state).toBe("failure");
    expect(await states(job.id)).toEqual({
      "node-01": "changed",
      "node-02": "changed",
      "node-03": "failed",
      "node-04": "changed",
      "node-06": "skipped",
      "node-08": "skipped",
    });
    healOn("node-03");
  });

  it("is cancelled: the running node's process is killed, the waiting node skipped", async () => {
    const job = await submit({ kind: "execute", command: "sleep 30" }, ["node-01", "node-02"], {
      concurrency: 1,
    });
    await eventually(
      async () => ((await states(job.id))["node-01"] === "running" ? true : undefined),
      60_000,
      "node-01 running",
    );
    await fleet.controller.cancel(job.id);
    expect((await fleet.controller.waitDone(job.id)).state).toBe("cancelled");
    const { nodes } = await fleet.controller.get(job.id);
    expect(nodes.map((n) => [n.host, n.state])).toEqual([
      ["node-01", "failed"],
      ["node-02", "skipped"],
    ]);
    expect(nodes[0]!.message).toMatch(/cancelled; its process group was killed/);
  });

  it("ends when another process recorded a node's result first (a driver that lost its lease a moment late)", async () => {
    const job = await submit({ kind: "execute", command: "sleep 3" }, ["node-04"]);
    await eventually(
      async () => ((await states(job.id))["node-04"] === "running" ? true : undefined),
      60_000,
      "node-04 running",
    );
    // Written as another replica would: the agent's own result is then refused by the store.
    expect(
      await fleet.store.jobs.updateNode(job.id, "node-04", ["running"], {
        state: "changed",
        finishedAt: Date.now(),
        message: "recorded by another replica",
      }),
    ).toBe(true);
    const ended = await fleet.controller.waitDone(job.id, AbortSignal.timeout(60_000));
    expect(ended.state).toBe("done");
    expect((await fleet.controller.get(job.id)).nodes[0]!.message).toBe("recorded by another replica");
  });
});
