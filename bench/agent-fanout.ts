/**
 * Fan-out: `ping` and `execute true` to 1,000 agents (4 emulator processes of 250, each agent with
 * its own NATS connection) through a real nats-server with NKEY users, timed until every ACK and
 * every result is in, with jarvis's RSS; next to it Ansible running `command: true` on 100 local
 * inventory hosts (`-c local -f 50`), per node.
 */
import { spawn, execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { connect, nkeyAuthenticator } from "@nats-io/transport-node";
import { generateSigningKeys, loadPrivateKey } from "../src/agent/signing.js";
import { natsAuthorization, newNkeyUser } from "../src/nodes/nats-authorization.js";
import { openSqliteFleetStore } from "../src/nodes/fleet-store.js";
import { AgentBus } from "../src/jobs/agent-bus.js";
import { JobController } from "../src/jobs/job-controller.js";
import type { JobOperation } from "../src/jobs/job.js";
import { fmt, root } from "./lib.js";
import { closedSince, messageCounts } from "./nats-monitor.js";

// Smaller fleets for looking into a failure, and no Ansible while profiling:
// FANOUT_AGENTS=100 FANOUT_PROCESSES=1 FANOUT_ANSIBLE=0 npm run bench -- agents
const AGENTS = Number(process.env.FANOUT_AGENTS ?? 1000);
const PROCESSES = Number(process.env.FANOUT_PROCESSES ?? 4);
const ANSIBLE_HOSTS = 100;

export async function benchAgentFanout(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "jarvis-bench-fanout-"));
  const hosts = Array.from({ length: AGENTS }, (_, i) => `emu-${String(i).padStart(4, "0")}`);
  const users = new Map(hosts.map((h) => [h, newNkeyUser()] as const));
  const jarvisUser = newNkeyUser();
  const signing = generateSigningKeys();
  const port = await freePort();
  const monitorPort = await freePort();
  const monitor = `http://127.0.0.1:${monitorPort}`;
  writeFileSync(
    join(dir, "nats.conf"),
    `listen: 127.0.0.1:${port}\nhttp: 127.0.0.1:${monitorPort}\nmax_connections: 5000\njetstream { store_dir: "${join(dir, "js")}" }\n` +
      natsAuthorization(jarvisUser.publicKey, new Map([...users].map(([h, u]) => [h, u.publicKey]))),
  );
  const nats = spawn("/usr/sbin/nats-server", ["-c", join(dir, "nats.conf")], { stdio: "ignore" });
  const emulators: ReturnType<typeof spawn>[] = [];
  const store = openSqliteFleetStore(join(dir, "jarvis.sqlite"));
  try {
    const url = `nats://127.0.0.1:${port}`;
    const nc = await connectRetrying(url, jarvisUser.seed);
    const controller = new JobController({
      bus: await AgentBus.open(nc),
      nodes: store.nodes,
      jobs: store.jobs,
      signingKey: loadPrivateKey(signing.privateKeyPem),
      log: () => undefined,
    });
    await controller.start();
    const per = Math.ceil(AGENTS / PROCESSES);
    const started = performance.now();
    await Promise.all(
      Array.from({ length: PROCESSES }, (_, p) => {
        // execArgv passes `node --cpu-prof` on to the emulators, to see their side too.
        const child = spawn(
          process.execPath,
          [...process.execArgv, join(root, "dist/bench/agent-emulator.js")],
          {
            stdio: ["pipe", "pipe", "inherit"],
          },
        );
        emulators.push(child);
        const plan = {
          url,
          publicKey: signing.publicKey,
          stateDir: join(dir, "agents"),
          agents: hosts.slice(p * per, (p + 1) * per).map((host) => ({ host, seed: users.get(host)!.seed })),
        };
        child.stdin!.end(JSON.stringify(plan));
        return new Promise<void>((resolve, reject) => {
          child.stdout!.on("data", (c: Buffer) => c.toString().includes("ready") && resolve());
          child.once("exit", (code) => reject(new Error(`emulator exited ${code}`)));
        });
      }),
    );
    for (;;) {
      const online = (await store.nodes.list()).filter((n) => n.online).length;
      if (online === AGENTS) break;
      await sleep(200);
    }
    console.log(
      `${AGENTS} agents in ${PROCESSES} processes connected and heard from in ${fmt((performance.now() - started) / 1000)} s`,
    );
    // What the fleet costs with no job (heartbeats every 5 s), to tell a fan-out's own CPU from it.
    const idle = cpuMeter(
      nats.pid,
      emulators.map((e) => e.pid),
    );
    const idleSeconds = 5;
    await sleep(idleSeconds * 1000);
    const quiet = idle();
    console.log(
      `${"".padEnd(30)} idle fleet, CPU per second: jarvis ${fmt(quiet.jarvis / idleSeconds)} s, nats-server ${fmt(quiet.nats / idleSeconds)} s, emulators ${fmt(quiet.emulators / idleSeconds)} s; load average ${loadavg()[0]!.toFixed(1)}`,
    );

    const fanout = async (
      label: string,
      operation: JobOperation,
    ): Promise<{ ms: number; cpuSeconds: number }> => {
      // Listening before the submit: the first ACKs can come in before submit() returns.
      const acks = new Map<string, number[]>();
      const off = controller.onChange((c) => {
        if (c.host !== undefined && c.state === "received") {
          const times = acks.get(c.jobId) ?? [];
          times.push(performance.now());
          acks.set(c.jobId, times);
        }
      });
      const cpu = cpuMeter(
        nats.pid,
        emulators.map((e) => e.pid),
      );
      const counts0 = await messageCounts(monitor);
      const since = new Date();
      const t0 = performance.now();
      const job = await controller.submit({
        operation,
        hosts,
        targets: { words: ["emu-*"] },
        options: { timeoutMs: 60_000, ttlMs: 600_000 },
        requester: "bench",
      });
      const done = await controller.waitDone(job.id);
      const total = performance.now() - t0;
      off();
      const used = cpu();
      const counts = await messageCounts(monitor);
      const closed = await closedSince(monitor, since);
      const jobAcks = acks.get(job.id) ?? [];
      const ackedAt = jobAcks.length === AGENTS ? jobAcks[AGENTS - 1]! : 0;
      const { nodes } = await controller.get(job.id);
      const good = nodes.filter((n) => n.state === "ok" || n.state === "changed").length;
      // What the others ended as, with one message each: a failure must say why.
      const others = new Map<string, { count: number; message: string }>();
      for (const n of nodes) {
        if (n.state === "ok" || n.state === "changed") continue;
        const o = others.get(n.state) ?? { count: 0, message: n.message };
        o.count++;
        others.set(n.state, o);
      }
      console.log(
        `${label.padEnd(30)} every ACK ${ackedAt ? `${fmt(ackedAt - t0)} ms` : `(${jobAcks.length} ACKs)`}, every result ${fmt(total)} ms, ${good}/${AGENTS} ${done.state}  (goal: all within 1000 ms)`,
      );
      for (const [state, o] of others) console.log(`${"".padEnd(30)} ${o.count} ${state}: ${o.message}`);
      // Whether a node that did not answer had lost its connection, in nats-server's words.
      const reasons = new Map<string, number>();
      for (const n of nodes) {
        if (n.state === "ok" || n.state === "changed") continue;
        const reason = closed.get(`jarvis-agent ${n.host}`) ?? "connection not closed";
        reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
      }
      for (const [reason, count] of reasons) console.log(`${"".padEnd(30)}   of them ${count}: ${reason}`);
      if (closed.size > 0)
        console.log(`${"".padEnd(30)} nats-server closed ${closed.size} connections meanwhile`);
      const perNode = (s: number): string => fmt((s * 1000) / AGENTS);
      console.log(
        `${"".padEnd(30)} CPU: jarvis ${fmt(used.jarvis)} s, nats-server ${fmt(used.nats)} s, emulators ${fmt(used.emulators)} s, their commands ${fmt(used.commands)} s; per node ${perNode(used.jarvis)} / ${perNode(used.nats)} / ${perNode(used.emulators)} / ${perNode(used.commands)} ms; load average ${loadavg()[0]!.toFixed(1)}`,
      );
      // The three share this machine's cores: however well they overlap, the fan-out cannot end
      // sooner than their CPU time spread over every core (the emulators' share included).
      const cores = availableParallelism();
      const all = used.jarvis + used.nats + used.emulators + used.commands;
      const floorMs = (all * 1000) / cores;
      console.log(
        `${"".padEnd(30)} CPU-bound floor on this machine's ${cores} cores: ${fmt(floorMs)} ms (the emulators' and their commands' CPU alone: ${fmt(((used.emulators + used.commands) * 1000) / cores)} ms)`,
      );
      console.log(
        `${"".padEnd(30)} nats-server messages per node: ${fmt((counts.in - counts0.in) / AGENTS)} in, ${fmt((counts.out - counts0.out) / AGENTS)} out (heartbeats included)`,
      );
      return { ms: total, cpuSeconds: all };
    };
    await fanout(`ping x${AGENTS}`, { kind: "ping" });
    await fanout(`ping x${AGENTS} (again)`, { kind: "ping" });
    const exec = await fanout(`execute true x${AGENTS}`, { kind: "execute", command: "true" });
    console.log(
      `${"".padEnd(30)} RSS of jarvis (this process) ${fmt(process.memoryUsage().rss / 1024 / 1024)} MB; of each emulator ${emulators.map((e) => fmt(rssMb(e.pid))).join(", ")} MB (${per} agents each; every command forks from its emulator)`,
    );

    const ansibleRun = process.env.FANOUT_ANSIBLE === "0" ? undefined : await ansible(dir);
    if (ansibleRun !== undefined) {
      const ansibleMs = ansibleRun.ms;
      const ours = exec.ms / AGENTS;
      const theirs = ansibleMs / ANSIBLE_HOSTS;
      console.log(
        `ansible command:true x${ANSIBLE_HOSTS} -c local -f 50   ${fmt(ansibleMs)} ms: ${fmt(theirs)} ms per node`,
      );
      console.log(
        `${"".padEnd(30)} jarvis execute per node ${fmt(ours)} ms: ${fmt(theirs / ours)}x cheaper (goal >= 100x)`,
      );
      // CPU is what a loaded machine changes least: Ansible's with its forks, ours with nats-server and the emulators.
      const oursCpu = (exec.cpuSeconds * 1000) / AGENTS;
      const theirsCpu = (ansibleRun.cpuSeconds * 1000) / ANSIBLE_HOSTS;
      console.log(
        `${"".padEnd(30)} CPU per node: ansible ${fmt(theirsCpu)} ms, jarvis + nats-server + emulators + commands ${fmt(oursCpu)} ms: ${fmt(theirsCpu / oursCpu)}x less`,
      );
    }
    await controller.stop();
    await nc.close();
  } finally {
    for (const e of emulators) e.kill("SIGTERM");
    await Promise.all(
      emulators.map((e) => (e.exitCode === null ? new Promise((r) => e.once("exit", r)) : undefined)),
    );
    nats.kill("SIGTERM");
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * CPU seconds used since the call, by this process, nats-server, the emulators, and the commands
 * the emulators ran (their ended children: a spawned `true` costs as much CPU again as its fork).
 */
function cpuMeter(natsPid: number | undefined, emulatorPids: (number | undefined)[]) {
  // utime and stime are fields 14 and 15, cutime and cstime 16 and 17, counted after the command
  // name's closing parenthesis.
  const ticks = (pid: number | undefined, children: boolean): number => {
    if (pid === undefined) return 0;
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(")")[1]!.trim().split(" ");
      const at = children ? 13 : 11;
      return (Number(fields[at]) + Number(fields[at + 1])) / 100;
    } catch {
      return 0;
    }
  };
  const sum = (children: boolean): number =>
    emulatorPids.reduce<number>((total, pid) => total + ticks(pid, children), 0);
  const own = process.cpuUsage();
  const nats0 = ticks(natsPid, false);
  const emu0 = sum(false);
  const commands0 = sum(true);
  return () => {
    const d = process.cpuUsage(own);
    return {
      jarvis: (d.user + d.system) / 1e6,
      nats: ticks(natsPid, false) - nats0,
      emulators: sum(false) - emu0,
      commands: sum(true) - commands0,
    };
  };
}

/** Resident memory of a process, in MB (0 once it is gone). */
function rssMb(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const line = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return line ? Number(line[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Ansible's wall time, and the CPU seconds it and every process it started spent. */
async function ansible(dir: string): Promise<{ ms: number; cpuSeconds: number } | undefined> {
  const inventory = join(dir, "inventory.ini");
  writeFileSync(
    inventory,
    `[all]\n${Array.from({ length: ANSIBLE_HOSTS }, (_, i) => `h${i} ansible_connection=local ansible_python_interpreter=/usr/bin/python3`).join("\n")}\n`,
  );
  const t0 = performance.now();
  const children0 = childrenCpuSeconds();
  try {
    await promisify(execFile)(
      "ansible",
      ["all", "-i", inventory, "-c", "local", "-m", "command", "-a", "true", "-f", "50"],
      {
        env: {
          ...process.env,
          ANSIBLE_HOST_KEY_CHECKING: "False",
          ANSIBLE_LOCAL_TEMP: join(dir, "ansible-tmp"),
          ANSIBLE_GATHERING: "explicit",
        },
        maxBuffer: 64 * 1024 * 1024,
      },
    );
  } catch (err) {
    console.log(`ansible not run: ${(err as Error).message.split("\n")[0]}`);
    return undefined;
  }
  return { ms: performance.now() - t0, cpuSeconds: childrenCpuSeconds() - children0 };
}

/** CPU seconds of this process's children that have ended (cutime + cstime in /proc/self/stat). */
function childrenCpuSeconds(): number {
  const fields = readFileSync("/proc/self/stat", "utf8").split(")")[1]!.trim().split(" ");
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

async function connectRetrying(url: string, seed: string) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await connect({
        servers: url,
        authenticator: nkeyAuthenticator(new TextEncoder().encode(seed)),
        // As src/jobs/agents-connection.ts connects.
        noAsyncTraces: true,
      });
    } catch (err) {
      if (attempt > 100) throw err;
      await sleep(100);
    }
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        address && typeof address === "object" ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}
