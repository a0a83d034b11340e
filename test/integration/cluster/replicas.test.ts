/**
 * Two `jarvis start` replicas on one PostgreSQL and one nats-server, three `jarvis worker`s, chat
 * on a real ngircd; every one of them a separate process. 50 runs are started by one chat command;
 * mid-run a worker and the replica speaking for IRC are killed with -9. Every run succeeds, only
 * interrupted steps ran twice, the other replica takes IRC over within 15 s, and the room got every
 * progress line of the feed exactly once. With two replicas a schedule fires exactly once.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { makeJarvisEnv, designFor } from "../../helpers/jarvis-env.js";
import { eventually, freePort } from "../../helpers/net.js";
import { startNatsServer } from "../servers/nats-server.js";
import { startPostgres } from "../servers/postgres.js";
import { ircOperatorConfig, startNgircd } from "../servers/ngircd.js";
import { connectOperator } from "../bot/irc-operator.js";
import { countLines, exited, spawnWorker } from "../executors/nats-jarvis.js";
import { openStore } from "../../../src/store/registry.js";
import { formatRunEvent } from "../../../src/bot/progress.js";
import type { ChildProcess } from "node:child_process";
import type { NatsServer } from "../servers/nats-server.js";
import type { PostgresServer } from "../servers/postgres.js";
import type { Ngircd } from "../servers/ngircd.js";
import type { IrcOperator } from "../bot/irc-operator.js";
import type { JarvisEnv } from "../../helpers/jarvis-env.js";
import type { WorkerProcess } from "../executors/nats-jarvis.js";
import type { RunStore } from "../../../src/store/run-store.js";

const RUNS = Number(process.env.JARVIS_REPLICA_TEST_RUNS ?? 50);
const DEADLINE = Number(process.env.JARVIS_REPLICA_TEST_DEADLINE ?? 240_000);
// The middle step counts itself and waits for ./mid.open: the kills land mid-step however slow the machine is.
const PIPELINE = "steps:\n  - count:a\n  - count-wait:mid\n  - count:b\n";

interface Replica {
  child: ChildProcess;
  output(): string;
}

interface ClusterJson {
  replicas: { id: string; pid: number; networks: string[] }[];
  workers: { id: string; tags: string[]; in_flight: number }[];
  networks: Record<string, { replica: string | null }>;
}

const stoppers: (() => Promise<void>)[] = [];
let nats: NatsServer;
let postgres: PostgresServer;
let ircd: Ngircd;

beforeAll(async () => {
  [nats, postgres, ircd] = await Promise.all([startNatsServer(), startPostgres(), startNgircd()]);
}, 120_000);

afterEach(async () => {
  for (const stop of stoppers.splice(0).reverse()) await Promise.allSettled([stop()]);
});

afterAll(async () => {
  await Promise.allSettled([nats?.stop(), postgres?.stop(), ircd?.close()]);
});

/** `jarvis start` with `configPath`, waited for until it says it started. */
async function startReplica(env: JarvisEnv, configPath: string): Promise<Replica> {
  const child = env.spawnCli(["start"], { env: { JARVIS_CONFIG: configPath } });
  let output = "";
  child.stderr?.on("data", (c: Buffer) => void (output += c.toString()));
  child.stdout?.resume();
  stoppers.push(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    await exited(child);
  });
  await eventually(
    () => (output.includes("jarvis: started") ? true : undefined),
    DEADLINE,
    "replica started",
  );
  return { child, output: () => output };
}

async function clusterOf(env: JarvisEnv): Promise<ClusterJson> {
  const { code, stdout, stderr } = await env.cli(["status", "--cluster", "--json"]);
  expect(code, stderr).toBe(0);
  return JSON.parse(stdout) as ClusterJson;
}

/** A jarvis env on the shared servers, and a second config for the replica without the API. */
async function clusterEnv(): Promise<{ env: JarvisEnv; second: string; apiPort: number }> {
  const apiPort = await freePort();
  const db = await postgres.createDatabase();
  const base = [
    `executor:\n  nats:\n    url: ${nats.url}`,
    "cluster:\n  chat_lease_seconds: 6",
    "schedules:\n  misfire_grace_seconds: 30\n  poll_seconds: 0.2",
    ircOperatorConfig(ircd.port, { burst: 20, intervalMs: 20 }),
  ].join("\n");
  const env = makeJarvisEnv({
    pipelines: { p: PIPELINE },
    store: `store:\n  url: ${db}`,
    leaseSeconds: 10,
    api: `listen: 127.0.0.1:${apiPort}`,
    extraConfig: base,
  });
  const second = env.write(
    "second.yml",
    readFileSync(env.configPath, "utf8").replace(/^api:\n(?: {2}.*\n)+/m, "api: false\n"),
  );
  mkdirSync(join(env.dir, "designs"), { recursive: true });
  return { env, second, apiPort };
}

/** The chat lines the feed's events of #ops make, in feed order. */
async function expectedLines(store: RunStore): Promise<string[]> {
  const lines: string[] = [];
  for (let after = 0; ;) {
    const events = await store.readEvents(after, { limit: 1000 });
    if (events.length === 0) return lines;
    for (const event of events) {
      after = event.seq;
      if (event.origin !== "irc:#ops") continue;
      const line = formatRunEvent(event, "jarvis");
      if (line !== undefined) lines.push(line);
    }
  }
}

function counted(lines: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const l of lines) counts.set(l, (counts.get(l) ?? 0) + 1);
  return counts;
}

describe("jarvis replicas", () => {
  it(
    `runs ${RUNS} runs through 2 replicas and 3 workers, surviving kill -9 of a worker and of the IRC holder`,
    async () => {
      const { env, second, apiPort } = await clusterEnv();
      const hosts = Array.from({ length: RUNS }, (_, i) => `h${String(i + 1).padStart(2, "0")}`);
      writeFileSync(
        join(env.dir, "designs", "fleet.yml"),
        `instances:\n${hosts.map((h) => `  - hostname: ${h}\n    provider: local\n`).join("")}`,
      );
      const workers: WorkerProcess[] = [];
      for (let i = 0; i < 3; i++) {
        // An ack wait long enough that a live worker stalled by a loaded machine keeps its steps.
        const worker = await spawnWorker(env, ["--concurrency", "20", "--ack-wait", "10"]);
        stoppers.push(() => worker.stop());
        workers.push(worker);
      }
      const a = await startReplica(env, env.configPath);
      const b = await startReplica(env, second);
      const replicas = [a, b];
      const store = await openStore(env.config().store);
      stoppers.push(() => store.close());
      const alice: IrcOperator = await connectOperator(ircd.port, "alice", ["#ops"]);
      stoppers.push(() => alice.close());

      // Both replicas and all workers are seen; exactly one replica speaks for IRC.
      const view = await eventually(
        async () => {
          const v = await clusterOf(env);
          return v.replicas.length === 2 && v.workers.length === 3 && v.networks.irc?.replica ? v : undefined;
        },
        DEADLINE,
        "2 replicas, 3 workers and an IRC holder in status --cluster",
      );
      const holderId = view.networks.irc!.replica!;
      const holderMember = view.replicas.find((r) => r.id === holderId)!;
      expect(holderMember.networks).toEqual(["irc"]);
      expect(view.replicas.find((r) => r.id !== holderId)!.networks).toEqual([]);
      const health = (await (await fetch(`http://127.0.0.1:${apiPort}/health`)).json()) as {
        cluster: ClusterJson;
      };
      expect(health.cluster.networks.irc?.replica).toBe(holderId);
      expect(health.cluster.replicas).toHaveLength(2);
      expect(health.cluster.workers.map((w) => w.tags)).toEqual([[], [], []]);

      const from = alice.seen.length;
      alice.say("#ops", "jarvis: run p fleet.yml");
      await alice.waitFor(/^jarvis\S* -> #ops: alice: .*queued as run/, from, DEADLINE);
      // Every run waits in its middle step, spread over the workers.
      await eventually(
        () => (countLines(env, "mid").length === RUNS ? true : undefined),
        DEADLINE,
        "every run in its middle step",
      );
      const victim = workers.find((w) => w.ran().includes("count-wait:mid"))!;
      const victimRuns = new Set(
        [...victim.output().matchAll(/running count-wait:mid \(run (\S+),/g)].map((m) => m[1]!),
      );
      const holder = replicas.find((r) => r.child.pid === holderMember.pid)!;
      const other = replicas.find((r) => r !== holder)!;
      const heldRuns = new Set(
        (await store.listRuns({ states: ["running"] }))
          .filter((r) => r.leaseOwner === holderId)
          .map((r) => r.id),
      );
      victim.child.kill("SIGKILL");
      holder.child.kill("SIGKILL");
      const killedAt = Date.now();
      await Promise.all([exited(victim.child), exited(holder.child)]);

      // The other replica takes IRC over within 15 s (the lease is 6 s here).
      await eventually(
        () => (/irc: this replica now speaks for the network/.test(other.output()) ? true : undefined),
        DEADLINE,
        "the other replica to take IRC over",
      );
      // A figure, not an assertion (timings depend on the machine's load): the report quotes it.
      console.log(`replicas test: IRC taken over ${Date.now() - killedAt} ms after the kill`);
      env.write("mid.open", "");

      await eventually(
        async () => {
          const counts = await store.countRunsByState();
          return counts.succeeded === RUNS ? true : undefined;
        },
        DEADLINE,
        `all ${RUNS} runs succeeded`,
      ).catch(async (err: unknown) => {
        const counts = JSON.stringify(await store.countRunsByState());
        throw new Error(`${String(err)}; runs: ${counts}; replica: ${other.output().slice(-3000)}`);
      });
      // Only interrupted steps ran twice: the middle step of runs on the killed worker or
      // executed by the killed replica; no other step of any run.
      const ids = (await store.listRuns({ limit: RUNS * 2 })).map((r) => r.id);
      expect(ids).toHaveLength(RUNS);
      const perStep = (task: string): Map<string, number> => counted(countLines(env, task));
      for (const [task, counts] of [
        ["a", perStep("a")],
        ["b", perStep("b")],
        ["mid", perStep("mid")],
      ] as const) {
        for (const id of ids) {
          const n = counts.get(id) ?? 0;
          // Once more for each process that died under it: the worker (its request is delivered
          // again) and the replica executing the run (the next one starts a new attempt).
          const interruptions = task === "mid" ? Number(victimRuns.has(id)) + Number(heldRuns.has(id)) : 0;
          expect(n, `${task} of run ${id}`).toBeGreaterThanOrEqual(1);
          const ran = workers.flatMap((w) =>
            [...w.output().matchAll(new RegExp(`running count-\\S+ \\(run ${id}, [^)]*\\)`, "g"))].map(
              (m) => m[0],
            ),
          );
          expect(n, `${task} of run ${id}: ${ran.join("; ")}`).toBeLessThanOrEqual(1 + interruptions);
        }
      }

      // The room got each progress line of the feed exactly once, whichever replica said it.
      const expected = counted(await expectedLines(store));
      const said = (): Map<string, number> =>
        counted(
          alice.seen
            .slice(from)
            .filter((l) => /^jarvis\S* -> #ops: /.test(l))
            .map((l) => l.replace(/^jarvis\S* -> #ops: /, ""))
            // The reply to the command (its run list, cut with a pointer) is no progress line.
            .filter((l) => !l.startsWith("alice: ") && !l.includes(" queued as run ") && !l.startsWith("…")),
        );
      await eventually(
        () => ([...expected].every(([line, n]) => (said().get(line) ?? 0) >= n) ? true : undefined),
        DEADLINE,
        "every progress line in #ops",
      ).catch((err: unknown) => {
        const missing = [...expected].filter(([line, n]) => (said().get(line) ?? 0) < n).slice(0, 10);
        throw new Error(`${String(err)}; missing: ${JSON.stringify(missing)}`);
      });
      // Exactly once, but for the one window docs/scale-out.md names: the line the killed holder had
      // on the wire before its cursor write landed is said again by the next holder.
      const again = [...said()].filter(([line, n]) => n > (expected.get(line) ?? 0));
      expect(
        again.length <= 1 &&
          again.every(([line, n]) => expected.has(line) && n === (expected.get(line) ?? 0) + 1),
        `said more often than the feed implies: ${JSON.stringify(again)}`,
      ).toBe(true);
      expect(expected.size).toBeGreaterThanOrEqual(RUNS * 5);

      const after = await clusterOf(env);
      expect(after.networks.irc?.replica).not.toBe(holderId);
      // The killed replica's member entry lingers until it expires; the holder's is the other's.
      expect(after.replicas.find((r) => r.id === after.networks.irc?.replica)?.pid).toBe(other.child.pid);
    },
    DEADLINE * 3,
  );

  it(
    "fires a schedule exactly once with two replicas on one store",
    async () => {
      const { env, second } = await clusterEnv();
      // A CLI schedule names a design file the firing service reads from its own directory.
      env.write("loki.yml", designFor("loki"));
      const worker = await spawnWorker(env, ["--ack-wait", "10"]);
      stoppers.push(() => worker.stop());
      const replicas = [await startReplica(env, env.configPath), await startReplica(env, second)];
      // Far enough ahead for a slow CLI to make it before it is due.
      const at = new Date(Date.now() + 30_000).toISOString();
      const made = await env.cli(["schedule", "p", "loki.yml", "at", at, "--json"]);
      expect(made.code, made.stderr).toBe(0);
      env.write("mid.open", "");
      const store = await openStore(env.config().store);
      stoppers.push(() => store.close());
      await eventually(
        async () => ((await store.countRunsByState()).succeeded === 1 ? true : undefined),
        DEADLINE,
        "the scheduled run to succeed",
      ).catch(async (err: unknown) => {
        const listed = (await env.cli(["schedules", "--json"])).stdout;
        const runs = JSON.stringify(await store.countRunsByState());
        throw new Error(
          `${String(err)}; schedules: ${listed}; runs: ${runs}; replicas: ${replicas.map((r) => r.output().slice(-1500)).join("\n---\n")}`,
        );
      });
      const { stdout } = await env.cli(["schedules", "--json"]);
      const [schedule] = JSON.parse(stdout) as { occurrences: { action: string; run_id: string }[] }[];
      expect(schedule?.occurrences).toHaveLength(1);
      expect(schedule?.occurrences[0]?.action).toBe("ran");
      expect(await store.listRuns({ host: "loki" })).toHaveLength(1);
      expect(countLines(env, "a")).toHaveLength(1);
    },
    DEADLINE * 2,
  );
});
