/**
 * `jarvis start`: the long-lived service. It executes queued runs, picks up every run that was
 * interrupted, and runs the chat front (the console when no network is configured). SIGTERM or
 * SIGINT stops it cleanly: the bot stops taking commands and leaves its networks, in-flight steps
 * are stopped and their runs are resumed by the next start. A stop takes at most STOP_BUDGET_MS
 * whatever the networks do: past it the process exits and says what it was still waiting for.
 */
import { resolve } from "node:path";
import { openJarvis } from "../service.js";
import { describeStore } from "../store/registry.js";
import { DEFAULT_DEPLOY_KEY, ensureDeployKey } from "../workers/deploy-key.js";
import { startBot } from "../bot/bot.js";
import { startApiServer } from "../api/api-server.js";
import type { ApiServer } from "../api/api-server.js";
import { Scheduler } from "../schedule/scheduler.js";
import { joinCluster } from "../cluster/cluster.js";
import type { ClusterMembership } from "../cluster/cluster.js";
import { EXIT } from "./exit-codes.js";
import { defineCommand, usageError } from "./command.js";
import type { CommandContext } from "./command.js";
import type { Bot } from "../bot/bot.js";
import type { Jarvis } from "../service.js";

/** Service managers give a stopping service some 10 s before SIGKILL; leave them room. */
const STOP_BUDGET_MS = 4_500;

/** The `start` command. */
export const startCommand = defineCommand({
  usage: "start",
  summary: "run the service: execute queued and interrupted runs, and the chat bot",
  options: {},
  run: async (ctx) => {
    if (ctx.args.length > 0) throw usageError("start takes no arguments");
    // Listen from the start: a signal while the networks connect stops the service cleanly too.
    const signalled = new Promise<string>((resolve) => {
      process.once("SIGTERM", () => resolve("SIGTERM"));
      process.once("SIGINT", () => resolve("SIGINT"));
    });
    const config = ctx.config();
    // The key jarvis logs in to deployed hosts with: made now when absent, so the first deploy
    // does not stop for it. Steps find it at the same place (they run in config.baseDir).
    const keySetting = config.modules.ssh?.with.deploy_key;
    const key = await ensureDeployKey(
      resolve(config.baseDir, typeof keySetting === "string" ? keySetting : DEFAULT_DEPLOY_KEY),
    );
    const jarvis = await openJarvis(config, {
      execute: true,
      log: (line) => ctx.err(`jarvis: agents: ${line}`),
    });
    ctx.err(`jarvis: deploy key ${key.path}`);
    // Schedules live in the store; every service sharing it looks, and one claims each occurrence.
    const scheduler = new Scheduler({
      store: jarvis.store,
      control: jarvis.control,
      owner: jarvis.engine.owner,
      graceMs: config.schedules.graceMs,
      pollMs: config.schedules.pollMs,
      log: (line) => ctx.err(`jarvis: ${line}`),
    });
    scheduler.start();
    // With replicas, each chat network is spoken for by the one replica holding its lease.
    const cluster = config.cluster
      ? await joinCluster(
          config.cluster,
          jarvis.engine.owner,
          () => jarvis.store.latestSeq(),
          (line) => ctx.err(`jarvis: ${line}`),
        ).catch(async (err: unknown) => {
          await scheduler.close();
          await jarvis.close();
          throw err;
        })
      : undefined;
    const bot = await startBot(
      jarvis,
      cluster ? { leaser: cluster.leaser, onHeld: (networks) => cluster.setNetworks(networks) } : {},
    ).catch(async (err: unknown) => {
      await scheduler.close();
      await cluster?.close();
      await jarvis.close();
      throw err;
    });
    jarvis.rules?.onAnnounce((room, line) => bot.announce(room, line));
    if (config.rules.length > 0 && !config.agents)
      ctx.err(
        `jarvis: rules: ${config.rules.length} rule(s) wait for agents' events, but jarvis.yml has no agents: section`,
      );
    const api = config.api.enabled
      ? await startApiServer(jarvis, {
          chatStates: () => new Map([...bot.adapters].map(([network, adapter]) => [network, adapter.state])),
          ...(cluster ? { cluster: () => cluster.view() } : {}),
          log: ctx.err,
        }).catch(async (err: unknown) => {
          await scheduler.close();
          await bot.close();
          await cluster?.close();
          await jarvis.close();
          throw err;
        })
      : undefined;
    if (cluster) ctx.err(`jarvis: replica ${cluster.id} joined the cluster (NATS of cluster: in jarvis.yml)`);
    if (api?.pageUrlWithToken) {
      // The one place the local token is shown, as notebook servers do: the link opens the page.
      ctx.err(`jarvis: API and page at ${api.pageUrlWithToken}`);
      ctx.err(`jarvis: API token kept in ${api.localTokenFile}`);
    } else if (api) ctx.err(`jarvis: API at ${api.url}`);
    if (config.agents) ctx.err(`jarvis: agents and jobs over ${config.agents.natsUrls.join(", ")}`);
    ctx.err(
      `jarvis: started (store ${describeStore(config.store)}, pipelines in ${config.pipelines.dirs.join(", ")})`,
    );
    const signal = await signalled;
    ctx.err(`jarvis: ${signal}, stopping; runs in flight resume at the next start`);
    await scheduler.close();
    await stop(ctx, bot, jarvis, api, cluster);
    return EXIT.ok;
  },
});

/**
 * Close the chat front, then the engine and the store, within STOP_BUDGET_MS. A second signal, or
 * the budget running out, ends the process at once with a line saying what was still open.
 */
async function stop(
  ctx: CommandContext<unknown>,
  bot: Bot,
  jarvis: Jarvis,
  api: ApiServer | undefined,
  cluster: ClusterMembership | undefined,
): Promise<void> {
  const started = Date.now();
  let waitingFor = "the API server";
  let exitCode: number = EXIT.internal;
  const exitNow = (why: string, code: number): void => {
    ctx.err(`jarvis: ${why} while waiting for ${waitingFor}; exiting now`);
    process.exit(code);
  };
  const deadline = setTimeout(
    () => exitNow(`not stopped after ${STOP_BUDGET_MS} ms`, exitCode),
    STOP_BUDGET_MS,
  );
  const again = (signal: string): void => exitNow(`${signal} again`, EXIT.internal);
  process.once("SIGTERM", () => again("SIGTERM"));
  process.once("SIGINT", () => again("SIGINT"));
  // Stop taking API requests and drop event streams (clients resume with Last-Event-ID).
  await api?.close();
  waitingFor = `the chat networks (${[...bot.adapters.keys()].join(", ")})`;
  // Leave the networks first, so nobody is told about steps that are about to be stopped. The map
  // holds the networks spoken for now, and a network leaves it as it closes: taken before.
  const leaving = [...bot.adapters];
  await bot.close();
  for (const [network, adapter] of leaving) {
    ctx.err(
      adapter.state.kind === "closed"
        ? `jarvis: closed ${network}`
        : `jarvis: ${network} did not close (still ${adapter.state.kind})`,
    );
  }
  // The networks' leases were handed back as the bot left them; now leave the cluster view.
  waitingFor = "the cluster's NATS";
  await cluster?.close();
  waitingFor = "the in-flight steps and the store";
  await jarvis.close();
  ctx.err(`jarvis: closed the engine and the store; stopped in ${Date.now() - started} ms`);
  // Everything is closed, so the process ends by itself unless a library still holds a socket or a
  // timer: then the deadline ends it and says so, instead of the process lingering.
  waitingFor = "a library's leftover socket or timer";
  exitCode = EXIT.ok;
  deadline.unref();
}
