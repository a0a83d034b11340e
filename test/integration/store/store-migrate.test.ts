/**
 * `jarvis store migrate --from sqlite:PATH --to postgres://...`: real runs made by the CLI on a
 * SQLite store, copied into a real PostgreSQL and read back through both stores' interfaces.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { openSqliteStore } from "../../../src/store/sqlite-store.js";
import { openPostgresStore } from "../../../src/store/postgres-store.js";
import { designFor, makeJarvisEnv } from "../../helpers/jarvis-env.js";
import { startPostgres } from "../servers/postgres.js";
import type { PostgresServer } from "../servers/postgres.js";
import type { RunStore } from "../../../src/store/run-store.js";
import { openPostgresFleetStore, openSqliteFleetStore } from "../../../src/nodes/fleet-store.js";
import type { FleetStore } from "../../../src/nodes/fleet-store.js";
import type { JobRecord } from "../../../src/jobs/job.js";

let server: PostgresServer;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server?.stop();
});

/** Everything a store holds, read through the RunStore interface. */
async function contents(store: RunStore) {
  const runs = await store.listRuns({});
  const perRun = [];
  for (const run of runs) {
    const steps = await store.listSteps(run.id);
    const snapshots = [];
    for (const step of steps) {
      snapshots.push(await store.getSnapshot(run.id, step.index, "input"));
      snapshots.push(await store.getSnapshot(run.id, step.index, "output"));
    }
    perRun.push({ run, steps, snapshots, log: await store.readLog(run.id) });
  }
  const schedules = await store.listSchedules();
  const occurrences = await Promise.all(schedules.map((s) => store.listOccurrences(s.id, 100)));
  const approvals = await Promise.all(runs.map((r) => store.listApprovals(r.id)));
  return {
    perRun,
    events: await store.readEvents(0),
    audit: await store.listAudit(1000),
    hosts: await store.listHosts({}),
    schedules,
    occurrences,
    approvals,
  };
}

/** What the CLI's runs do not make: a run awaiting approval with one decision, and a schedule that fired. */
async function addApprovalAndSchedule(sqlitePath: string): Promise<void> {
  const store = openSqliteStore(sqlitePath);
  try {
    const waiting = await store.createRun({
      host: "freya",
      pipeline: "good",
      pipelineJson: "{}",
      totalSteps: 1,
      requestedBy: "irc:alice",
      origin: "irc:#ops",
      source: "freya.yml",
      clipboardYaml: "a: 1\n",
      stepNames: ["ok:first"],
      approval: { role: "ops", count: 2, requesterPerson: "alice", notify: [], expiresInMs: 3_600_000 },
    });
    const decided = await store.decideApproval({
      runId: waiting.id,
      person: "bob",
      identity: "irc:bob",
      verdict: "approve",
      reason: "",
    });
    expect(decided.outcome).toBe("recorded");
    const schedule = await store.createSchedule({
      pipeline: "good",
      source: "loki.yml",
      timing: { kind: "cron", cron: "0 3 * * 0", timezone: null },
      misfire: "once",
      force: false,
      createdBy: "cli:root",
      origin: "cli",
      fileAccess: "any",
      nextAt: 1_000,
    });
    const claimed = await store.claimOccurrence({
      scheduleId: schedule.id,
      expectedNextAt: 1_000,
      nextAt: 2_000,
      owner: "test",
      occurrence: { at: 1_000, late: true, missedBefore: 2, action: "run" },
    });
    expect(claimed).toBe(true);
    await store.recordOccurrenceResult(schedule.id, 1_000, { error: "host busy" });
  } finally {
    await store.close();
  }
}

/** Everything a fleet store holds, read through its interfaces. */
async function fleetContents(fleet: FleetStore) {
  const nodes = await fleet.nodes.list();
  const jobs = await fleet.jobs.listJobs({ limit: 100 });
  return {
    nodes,
    facts: await Promise.all(nodes.map((n) => fleet.nodes.factsHistory(n.host, 100))),
    jobs,
    jobNodes: await Promise.all(jobs.map((j) => fleet.jobs.jobNodes(j.id))),
    events: await Promise.all(jobs.map((j) => fleet.jobs.jobEvents(j.id, 0, 1000))),
    running: await fleet.jobs.runningJobs(),
  };
}

/** Two nodes with facts that changed, an ended job and one still running, in the SQLite file. */
async function addFleet(sqlitePath: string): Promise<void> {
  const fleet = openSqliteFleetStore(sqlitePath);
  try {
    for (const host of ["web-1", "web-2"]) {
      await fleet.nodes.recordHeartbeat({
        host,
        at: 1_000,
        agentVersion: "1",
        groups: ["web"],
        offlineAfterMs: 1,
      });
      await fleet.nodes.recordFacts({ host, at: 1_000, hash: "a", groups: ["web"], facts: { v: 1 } });
      await fleet.nodes.recordFacts({ host, at: 2_000, hash: "b", groups: ["web"], facts: { v: 2 } });
    }
    await fleet.nodes.markSilentOffline(5_000);
    const job = (id: string, createdAt: number): JobRecord => ({
      id,
      createdAt,
      finishedAt: null,
      requester: "cli:root",
      operation: { kind: "ping" },
      targets: { words: [], where: "group=web" },
      options: { timeoutMs: 1_000, ttlMs: 1_000 },
      state: "running",
      rerunOf: null,
    });
    for (const id of ["ended", "running"]) {
      await fleet.jobs.createJob(job(id, id === "ended" ? 1 : 2), [
        { host: "web-1", requestId: `${id}-1` },
        { host: "web-2", requestId: `${id}-2` },
      ]);
      await fleet.jobs.updateNode(id, "web-1", ["queued"], { state: "ok", finishedAt: 3, exitCode: 0 });
    }
    await fleet.jobs.setJobState("ended", ["running"], "done", 4);
  } finally {
    await fleet.close();
  }
}

describe("jarvis store migrate", () => {
  it("copies the agents' nodes, facts history, jobs, job nodes and job events, and a copied job goes on", async () => {
    const env = makeJarvisEnv();
    const sqlitePath = join(env.dir, "jarvis.sqlite");
    await openSqliteStore(sqlitePath).close();
    await addFleet(sqlitePath);
    const url = await server.createDatabase();
    const migrated = await env.cli(["store", "migrate", "--from", `sqlite:${sqlitePath}`, "--to", url]);
    expect(migrated.code, migrated.stderr).toBe(0);
    for (const table of ["nodes: 2", "node_facts: 4", "jobs: 2", "job_nodes: 4", "job_events: 9"])
      expect(migrated.stdout).toMatch(new RegExp(`^${table} rows$`, "m"));
    const sqlite = openSqliteFleetStore(sqlitePath);
    const postgres = await openPostgresFleetStore(url);
    try {
      const before = await fleetContents(sqlite);
      expect(before.running.map((j) => j.id)).toEqual(["running"]);
      expect(await fleetContents(postgres)).toEqual(before);
      // The running job's events go on after its copied ones.
      const last = before.events[0]!.at(-1)!.seq;
      expect(await postgres.jobs.updateNode("running", "web-2", ["queued"], { state: "received" })).toBe(
        true,
      );
      const next = await postgres.jobs.jobEvents("running", last, 10);
      expect(next.map((e) => [e.host, e.state])).toEqual([["web-2", "received"]]);
      expect(next[0]!.seq).toBeGreaterThan(last);
    } finally {
      await sqlite.close();
      await postgres.close();
    }
  });

  it("copies runs, steps, snapshots, logs, events, audit, the host index, approvals and schedules into PostgreSQL, checked by counts", async () => {
    const env = makeJarvisEnv({
      pipelines: {
        good: "steps:\n  - ok:first\n",
        bad: "steps:\n  - fail:now\non_failure:\n  - ok:cleanup\n",
      },
    });
    expect((await env.cli(["run", "good", env.write("loki.yml", designFor("loki"))])).code).toBe(0);
    expect((await env.cli(["run", "bad", env.write("thor.yml", designFor("thor"))])).code).toBe(1);
    expect((await env.cli(["history", "loki"])).code).toBe(0);
    const sqlitePath = join(env.dir, "jarvis.sqlite");
    await addApprovalAndSchedule(sqlitePath);
    const url = await server.createDatabase();

    const migrated = await env.cli(["store", "migrate", "--from", `sqlite:${sqlitePath}`, "--to", url]);
    expect(migrated.code, migrated.stderr).toBe(0);
    expect(migrated.stdout).toMatch(/^runs: 3 rows$/m);
    for (const table of ["hosts: 3", "approvals: 1", "schedules: 1", "schedule_occurrences: 1"]) {
      expect(migrated.stdout).toMatch(new RegExp(`^${table} rows$`, "m"));
    }
    expect(migrated.stdout).toContain("counts match on both sides");

    const sqlite = openSqliteStore(sqlitePath);
    const postgres = await openPostgresStore(url);
    try {
      const before = await contents(sqlite);
      expect(before.perRun).toHaveLength(3);
      expect(before.hosts.total).toBe(3);
      expect(before.approvals.flat()).toHaveLength(1);
      expect(before.occurrences.flat()).toHaveLength(1);
      expect(before.events.length).toBeGreaterThan(10);
      expect(before.audit.length).toBeGreaterThanOrEqual(3);
      expect(await contents(postgres)).toEqual(before);
      // The copied feed goes on from where the SQLite one stopped.
      const last = await sqlite.latestSeq();
      expect(await postgres.latestSeq()).toBe(last);
      const next = await postgres.createRun({
        host: "odin",
        pipeline: "good",
        pipelineJson: "{}",
        totalSteps: 1,
        requestedBy: "test",
        origin: "cli",
        source: "odin.yml",
        clipboardYaml: "a: 1\n",
        stepNames: ["ok:first"],
      });
      expect((await postgres.readEvents(last)).map((e) => [e.seq, e.runId])).toEqual([[last + 1, next.id]]);
      // The copied index goes on being kept by the target's triggers.
      const freya = before.perRun.find((r) => r.run.host === "freya")!.run;
      expect(
        (await postgres.cancelIfQueued(freya.id, { name: "RunError", code: "E_TEST", message: "x" })).outcome,
      ).toBe("cancelled");
      const freyaLine = (await postgres.listHosts({})).hosts.find((h) => h.host === "freya");
      expect(freyaLine).toMatchObject({ runCount: 1, latest: { id: freya.id, state: "cancelled" } });
    } finally {
      await sqlite.close();
      await postgres.close();
    }

    // A target that holds data is refused unless --replace says to empty it; the password never shows.
    const again = await env.cli(["store", "migrate", "--from", `sqlite:${sqlitePath}`, "--to", url]);
    expect(again.code).toBe(5);
    expect(again.stderr).toContain("--replace");
    expect(again.stderr + again.stdout).not.toContain(server.password);
    const replaced = await env.cli([
      "store",
      "migrate",
      "--from",
      `sqlite:${sqlitePath}`,
      "--to",
      url,
      "--replace",
    ]);
    expect(replaced.code, replaced.stderr).toBe(0);
    const check = await openPostgresStore(url);
    expect((await check.listRuns({})).map((r) => r.host).sort()).toEqual(["freya", "loki", "thor"]);
    expect((await check.listHosts({})).hosts.map((h) => [h.host, h.runCount])).toEqual([
      ["freya", 1],
      ["loki", 1],
      ["thor", 1],
    ]);
    await check.close();
  });

  it("refuses a wrong command line without echoing the URL", async () => {
    const env = makeJarvisEnv();
    const noFrom = await env.cli(["store", "migrate", "--to", "postgres://u:hunter2@db/x"]);
    expect(noFrom.code).toBe(2);
    expect(noFrom.stderr).toContain("--from must name a SQLite store");
    expect(noFrom.stderr).not.toContain("hunter2");
    const badTo = await env.cli([
      "store",
      "migrate",
      "--from",
      "sqlite:x.sqlite",
      "--to",
      "mysql://u:hunter2@db",
    ]);
    expect(badTo.code).toBe(2);
    expect(badTo.stderr).not.toContain("hunter2");
  });
});
