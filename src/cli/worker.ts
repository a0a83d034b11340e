/**
 * `jarvis worker`: run steps for jarvis services elsewhere, taken from NATS JetStream. The steps,
 * their module defaults and their secrets come from this machine's jarvis.yml and environment.
 * SIGTERM or SIGINT stops it: steps in flight are stopped and handed back to the queue at once.
 */
import { createStepCatalog } from "../pipeline/step-catalog.js";
import { startWorker } from "../pipeline/executors/nats-worker.js";
import { EXIT } from "./exit-codes.js";
import { defineCommand, positiveInteger, usageError } from "./command.js";

/** The `worker` command. */
export const workerCommand = defineCommand({
  usage: "worker [--nats URL] [--tags a,b] [--concurrency N] [--ack-wait SECONDS]",
  summary: "run steps taken from NATS JetStream (URL defaults to executor.nats.url in jarvis.yml)",
  options: {
    nats: { type: "string" },
    tags: { type: "string" },
    concurrency: { type: "string" },
    "ack-wait": { type: "string" },
  },
  run: async (ctx) => {
    if (ctx.args.length > 0) throw usageError("worker takes no arguments");
    const signalled = new Promise<string>((resolve) => {
      process.once("SIGTERM", () => resolve("SIGTERM"));
      process.once("SIGINT", () => resolve("SIGINT"));
    });
    const config = ctx.config();
    // --nats names the server; how to authenticate to it (NKEY, TLS) is this machine's jarvis.yml's.
    const configured = config.executor.kind === "nats" ? config.executor.bus : undefined;
    const url = ctx.flags.nats ?? configured?.url;
    if (!url) throw usageError("worker needs --nats nats://HOST:PORT (or executor.nats.url in jarvis.yml)");
    const tags = (ctx.flags.tags ?? "")
      .split(",")
      .map((t) => t.trim())
      .filter((t) => t !== "");
    const worker = await startWorker({
      bus: { ...configured, url },
      tags,
      config,
      resolver: createStepCatalog({ stepsDirs: config.steps.dirs }),
      concurrency: positiveInteger(ctx.flags.concurrency, "--concurrency", 1),
      ackWaitMs: positiveInteger(ctx.flags["ack-wait"], "--ack-wait", 30) * 1000,
      log: (line) => ctx.err(`jarvis worker: ${line}`),
    });
    const signal = await signalled;
    ctx.err(`jarvis worker: ${signal}, stopping; steps in flight go back to the queue`);
    await worker.close();
    return EXIT.ok;
  },
});
