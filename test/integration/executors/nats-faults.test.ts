import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { designFor } from "../../helpers/jarvis-env.js";
import { eventually } from "../../helpers/net.js";
import { startNatsServer } from "../servers/nats-server.js";
import { DEADLINE, countLines, exited, natsJarvisEnv, spawnWorker } from "./nats-jarvis.js";
import type { NatsServer } from "../servers/nats-server.js";
import type { WorkerProcess } from "./nats-jarvis.js";

const TEST_TIMEOUT = 300_000;
// The middle step counts itself, then waits for ./middle.open: faults land mid-step however slow the machine is.
const PIPELINE = "steps:\n  - count:first\n  - count-wait:middle\n  - count:last\n";
// Short, so a silent worker's request is redelivered soon; its live peers say `working` well within it.
const ACK_WAIT = ["--ack-wait", "3"];

/** The worker that started the middle step, once one has. */
function holderOf(workers: WorkerProcess[]): Promise<WorkerProcess> {
  return eventually(
    () => workers.find((w) => w.ran().includes("count-wait:middle")),
    DEADLINE,
    "a worker to start the middle step",
  );
}

describe("NATS workers under faults", () => {
  let server: NatsServer;
  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it(
    "runs a step again on another worker when its worker is killed -9 mid-step, and only that step",
    async () => {
      const env = natsJarvisEnv(server.url, { p: PIPELINE });
      const workers = [await spawnWorker(env, ACK_WAIT), await spawnWorker(env, ACK_WAIT)];
      try {
        env.write("loki.yml", designFor("loki"));
        const run = env.spawnCli(["run", "p", "loki.yml"]);
        const holder = await holderOf(workers);
        await eventually(
          () => (countLines(env, "middle").length === 1 ? true : undefined),
          DEADLINE,
          "middle to start",
        );
        holder.child.kill("SIGKILL");
        await exited(holder.child);
        const other = workers.find((w) => w !== holder)!;
        await eventually(
          () => (other.ran().includes("count-wait:middle") ? true : undefined),
          DEADLINE,
          "the other worker to take the middle step over",
        );
        env.write("middle.open", "");
        expect(await exited(run)).toBe(0);
        expect(countLines(env, "first")).toHaveLength(1);
        expect(countLines(env, "middle")).toHaveLength(2);
        expect(countLines(env, "last")).toHaveLength(1);
        const log = (await env.cli(["log", "loki"])).stdout;
        expect(log).toMatch(/delivery 2 runs the step again on the same input/);
      } finally {
        await Promise.all(workers.map((w) => w.stop()));
      }
    },
    TEST_TIMEOUT,
  );

  it(
    "refuses the late result of a worker that was presumed dead and came back",
    async () => {
      const env = natsJarvisEnv(server.url, { p: PIPELINE });
      const workers = [await spawnWorker(env, ACK_WAIT), await spawnWorker(env, ACK_WAIT)];
      let stopped: WorkerProcess | undefined;
      try {
        env.write("loki.yml", designFor("loki"));
        const run = env.spawnCli(["run", "p", "loki.yml"]);
        stopped = await holderOf(workers);
        // Frozen, it stops saying `working`; its step (its own process group) keeps waiting at the gate.
        stopped.child.kill("SIGSTOP");
        const other = workers.find((w) => w !== stopped)!;
        await eventually(
          () => (other.ran().includes("count-wait:middle") ? true : undefined),
          DEADLINE,
          "the other worker to take the middle step over",
        );
        env.write("middle.open", "");
        expect(await exited(run)).toBe(0);
        // Thawed, the first worker finishes its copy of the step, and its result is refused.
        stopped.child.kill("SIGCONT");
        await eventually(
          () =>
            /result refused, a newer delivery took the step over/.test(stopped!.output()) ? true : undefined,
          DEADLINE,
          "the late result to be refused",
        );
        expect(countLines(env, "middle")).toHaveLength(2);
        expect(countLines(env, "last")).toHaveLength(1);
      } finally {
        stopped?.child.kill("SIGCONT");
        await Promise.all(workers.map((w) => w.stop()));
      }
    },
    TEST_TIMEOUT,
  );

  it(
    "pauses runs while nats-server restarts, and finishes them with no step lost or run twice",
    async () => {
      const env = natsJarvisEnv(server.url, { p: PIPELINE });
      const worker = await spawnWorker(env, ACK_WAIT);
      try {
        for (const h of ["loki", "thor"]) env.write(`${h}.yml`, designFor(h));
        const runs = ["loki", "thor"].map((h) => env.spawnCli(["run", "p", `${h}.yml`]));
        let said = "";
        for (const r of runs) {
          r.stdout?.on("data", (c: Buffer) => (said += c.toString()));
          r.stderr?.on("data", (c: Buffer) => (said += c.toString()));
        }
        await eventually(
          () => (countLines(env, "middle").length === 1 ? true : undefined),
          DEADLINE,
          "a middle step to start",
        );
        await server.restart();
        env.write("middle.open", "");
        expect(
          await Promise.all(runs.map(exited)),
          `the runs said:\n${said}\nthe worker said:\n${worker.output()}`,
        ).toEqual([0, 0]);
        for (const task of ["first", "middle", "last"]) expect(countLines(env, task)).toHaveLength(2);
      } finally {
        await worker.stop();
      }
    },
    TEST_TIMEOUT,
  );

  it(
    "a run that starts while nats-server is down waits for it instead of failing",
    async () => {
      const env = natsJarvisEnv(server.url, { p: PIPELINE });
      const worker = await spawnWorker(env, ACK_WAIT);
      try {
        env.write("loki.yml", designFor("loki"));
        env.write("middle.open", "");
        await server.down();
        const run = env.spawnCli(["run", "p", "loki.yml"]);
        let said = "";
        run.stdout?.on("data", (c: Buffer) => (said += c.toString()));
        run.stderr?.on("data", (c: Buffer) => (said += c.toString()));
        // Before connecting was tried again, this run failed at once with E_BUS_CONNECT instead.
        await eventually(
          () => (/does not answer.*waiting up to/.test(said) ? true : undefined),
          DEADLINE,
          "the run to wait for nats-server",
        );
        await server.up();
        expect(await exited(run), said).toBe(0);
        for (const task of ["first", "middle", "last"]) expect(countLines(env, task)).toHaveLength(1);
      } finally {
        await worker.stop();
      }
    },
    TEST_TIMEOUT,
  );

  it(
    "a worker told to stop while nats-server is gone still ends",
    async () => {
      const own = await startNatsServer();
      const env = natsJarvisEnv(own.url, { p: PIPELINE });
      const worker = await spawnWorker(env, ACK_WAIT);
      try {
        await own.stop();
        worker.child.kill("SIGTERM");
        // Before the drain was bounded it waited for the server forever: this never came.
        await eventually(
          () => (worker.child.exitCode !== null || worker.child.signalCode !== null ? true : undefined),
          DEADLINE,
          "the worker to exit after SIGTERM with the server gone",
        );
      } finally {
        worker.child.kill("SIGKILL");
      }
    },
    TEST_TIMEOUT,
  );
});
