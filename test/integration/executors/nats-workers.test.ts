import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { startNatsServer } from "../servers/nats-server.js";
import { designFor } from "../../helpers/jarvis-env.js";
import { eventually } from "../../helpers/net.js";
import { BusError } from "../../../src/errors.js";
import { openBus } from "../../../src/pipeline/executors/nats-bus.js";
import { clipboardFromWire, clipboardToWire } from "../../../src/pipeline/executors/nats-clipboard.js";
import { CLIPBOARD_BUCKET } from "../../../src/pipeline/executors/nats-wire.js";
import {
  DEADLINE,
  countLines,
  exited,
  natsJarvisEnv,
  spawnWorker,
  statusOf,
  stepProcesses,
} from "./nats-jarvis.js";
import type { NatsServer } from "../servers/nats-server.js";
import type { WorkerProcess } from "./nats-jarvis.js";

const TEST_TIMEOUT = 300_000;

describe("steps run by jarvis workers over NATS JetStream", () => {
  let server: NatsServer;
  beforeAll(async () => {
    // A small max_payload, so a clipboard of a few hundred KiB has to go through the object store.
    server = await startNatsServer({ config: "max_payload: 65536" });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it(
    "runs pipelines through two workers, each holding a step at once",
    async () => {
      const env = natsJarvisEnv(server.url, {
        p: "steps:\n  - count:first\n  - gate:open\n  - count:last\n",
      });
      const workers = [await spawnWorker(env, []), await spawnWorker(env, [])];
      try {
        for (const h of ["loki", "thor"]) env.write(`${h}.yml`, designFor(h));
        const runs = ["loki", "thor"].map((h) => env.spawnCli(["run", "p", `${h}.yml`]));
        // Each worker runs one step at a time, so two runs held at the gate are one on each.
        await eventually(
          () => (workers.every((w) => w.ran().includes("gate:open")) ? true : undefined),
          DEADLINE,
          "both workers to hold a gate step",
        );
        env.write("open", "");
        expect(await Promise.all(runs.map(exited))).toEqual([0, 0]);
        expect(countLines(env, "first")).toHaveLength(2);
        expect(countLines(env, "last")).toHaveLength(2);
        const log = (await env.cli(["log", "loki"])).stdout;
        expect(log).toMatch(/waiting for open/);
      } finally {
        await Promise.all(workers.map((w) => w.stop()));
      }
    },
    TEST_TIMEOUT,
  );

  it(
    "routes a runs_on step only to a worker with that tag, which gives it its own configured environment",
    async () => {
      const env = natsJarvisEnv(server.url, {
        p: "steps:\n  - ok:a\n  - uses: env:show\n    runs_on: [dmz]\n  - count:after\n",
      });
      // Only the DMZ worker's configuration has the module's environment (where secrets live).
      const dmzConfig = env.write(
        "dmz.yml",
        readFileSync(env.configPath, "utf8") + "\nmodules:\n  env:\n    env:\n      DMZ_SITE: inner\n",
      );
      const plain = await spawnWorker(env, []);
      const dmz = await spawnWorker(env, ["--config", dmzConfig, "--tags", "dmz,ssh"]);
      try {
        env.write("loki.yml", designFor("loki"));
        const { code, stderr } = await env.cli(["run", "p", "loki.yml"]);
        expect(code, stderr).toBe(0);
        expect(dmz.ran()).toContain("env:show");
        expect(plain.ran()).not.toContain("env:show");
        const clipboard = (await env.cli(["clipboard", "loki"])).stdout;
        expect(clipboard).toMatch(/DMZ_SITE: "?inner"?/);
      } finally {
        await Promise.all([plain.stop(), dmz.stop()]);
      }
    },
    TEST_TIMEOUT,
  );

  it(
    "carries a clipboard above max_payload through the object store, both ways",
    async () => {
      const env = natsJarvisEnv(server.url, { p: "steps:\n  - ok:a\n  - count:b\n" });
      const worker = await spawnWorker(env, []);
      try {
        const blob = "x".repeat(300_000);
        env.write("loki.yml", designFor("loki", `blob: "${blob}"\n`));
        const { code, stderr } = await env.cli(["run", "p", "loki.yml"]);
        expect(code, stderr).toBe(0);
        const clipboard = (await env.cli(["clipboard", "loki"])).stdout;
        expect(clipboard).toContain(blob);
        expect(clipboard).toMatch(/fixture_ok/);
        const nc = await connect({ servers: server.url });
        const jsm = await jetstreamManager(nc);
        // Objects were stored (and deleted after use): the stream behind the bucket saw them.
        expect((await jsm.streams.info(`OBJ_${CLIPBOARD_BUCKET}`)).state.last_seq).toBeGreaterThan(0);
        await nc.close();
      } finally {
        await worker.stop();
      }
    },
    TEST_TIMEOUT,
  );

  it("refuses a stored clipboard whose digest does not match the message", async () => {
    const bus = await openBus({ url: server.url }, "digest test", (line) => console.error(line));
    try {
      const yaml = `blob: ${"y".repeat(200_000)}\n`;
      const wire = await clipboardToWire(bus, "digest-test", yaml);
      expect("object" in wire).toBe(true);
      expect(await clipboardFromWire(bus, wire, "test")).toBe(yaml);
      const tampered = { ...wire, sha256: "0".repeat(64) };
      const error = await clipboardFromWire(bus, tampered, "test").catch((err: unknown) => err);
      expect(error).toBeInstanceOf(BusError);
      expect((error as BusError).code).toBe("E_BUS_CLIPBOARD_DIGEST");
    } finally {
      await bus.close();
    }
  });

  it(
    "carries a cancel to the worker, which kills the step's process group",
    async () => {
      const env = natsJarvisEnv(server.url, { p: "steps:\n  - gate:never\n" });
      let worker: WorkerProcess | undefined;
      try {
        worker = await spawnWorker(env, []);
        env.write("loki.yml", designFor("loki"));
        const run = env.spawnCli(["run", "p", "loki.yml"]);
        const status = await eventually(
          async () => {
            const s = await statusOf(env, "loki");
            return s && stepProcesses(s.run).length > 0 ? s : undefined;
          },
          DEADLINE,
          "the gate step to run on the worker",
        );
        expect((await env.cli(["cancel", "loki"])).code).toBe(0);
        await exited(run);
        await eventually(
          async () => ((await statusOf(env, "loki"))?.state === "cancelled" ? true : undefined),
          DEADLINE,
          "the run to be cancelled",
        );
        await eventually(
          () => (stepProcesses(status.run).length === 0 ? true : undefined),
          DEADLINE,
          "the step's processes to be gone",
        );
      } finally {
        await worker?.stop();
      }
    },
    TEST_TIMEOUT,
  );
});
