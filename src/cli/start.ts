/**
 * `jarvis start`: the long-lived service. It executes queued runs, picks up every run that was
 * interrupted, and runs the chat front (the console when no network is configured). SIGTERM or
 * SIGINT stops it cleanly: the bot leaves its networks, in-flight steps are stopped and their runs
 * are resumed by the next start.
 */
import { resolve } from "node:path";
import { openJarvis } from "../service.js";
import { DEFAULT_DEPLOY_KEY, ensureDeployKey } from "../workers/deploy-key.js";
import { startBot } from "../bot/bot.js";
import { EXIT } from "./exit-codes.js";
import { defineCommand, usageError } from "./command.js";

/** The `start` command. */
export const startCommand = defineCommand({
  usage: "start",
  summary: "run the service: execute queued and interrupted runs, and the chat bot",
  options: {},
  run: async (ctx) => {
    if (ctx.args.length > 0) throw usageError("start takes no arguments");
    const config = ctx.config();
    // The key jarvis logs in to deployed hosts with: made now when absent, so the first deploy
    // does not stop for it. Steps find it at the same place (they run in config.baseDir).
    const keySetting = config.modules.ssh?.with.deploy_key;
    const key = await ensureDeployKey(
      resolve(config.baseDir, typeof keySetting === "string" ? keySetting : DEFAULT_DEPLOY_KEY),
    );
    const jarvis = await openJarvis(config, { execute: true });
    ctx.err(`jarvis: deploy key ${key.path}`);
    const bot = await startBot(jarvis);
    ctx.err(`jarvis: started (store ${config.store.path}, pipelines in ${config.pipelines.dirs.join(", ")})`);
    await new Promise<void>((resolve) => {
      const stop = (signal: string): void => {
        ctx.err(`jarvis: ${signal}, stopping; runs in flight resume at the next start`);
        resolve();
      };
      process.once("SIGTERM", () => stop("SIGTERM"));
      process.once("SIGINT", () => stop("SIGINT"));
    });
    // Leave the networks first, so nobody is told about steps that are about to be stopped.
    await bot.close();
    await jarvis.close();
    return EXIT.ok;
  },
});
