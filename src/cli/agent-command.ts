/**
 * `jarvis agent --config agent.yml`: the agent on a deployed host (src/agent/). It needs no
 * jarvis.yml: --config names the agent's own file. `jarvis agent keys DIR` writes a job signing
 * key pair for jarvis (the private key stays with jarvis, the public key goes into agent.yml).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadAgentConfig } from "../agent/agent-config.js";
import { startAgent } from "../agent/agent.js";
import { generateSigningKeys } from "../agent/signing.js";
import { EXIT } from "./exit-codes.js";
import { defineCommand, usageError } from "./command.js";

export const agentCommand = defineCommand({
  usage: "agent --config agent.yml | agent keys DIR",
  summary: "run the agent of a deployed host (connects out to NATS), or make jarvis's job signing keys",
  options: {},
  run: async (ctx) => {
    if (ctx.args[0] === "keys") {
      const dir = ctx.args[1];
      if (!dir || ctx.args.length > 2) throw usageError("agent keys takes one directory");
      const keys = generateSigningKeys();
      writeFileSync(join(dir, "jarvis-signing.pem"), keys.privateKeyPem, { mode: 0o600, flag: "wx" });
      writeFileSync(join(dir, "jarvis-signing.pub"), `${keys.publicKey}\n`, { flag: "wx" });
      ctx.out(
        `wrote ${join(dir, "jarvis-signing.pem")} (keep it with jarvis) and jarvis-signing.pub (agents.jarvis_public_key)`,
      );
      return EXIT.ok;
    }
    if (ctx.args.length > 0) throw usageError("agent takes --config agent.yml and no other words");
    const file = ctx.flags.config;
    if (!file) throw usageError("agent needs --config agent.yml");
    const stopped = new Promise<string>((resolve) => {
      process.once("SIGTERM", () => resolve("SIGTERM"));
      process.once("SIGINT", () => resolve("SIGINT"));
    });
    const agent = await startAgent(loadAgentConfig(file), { log: ctx.err });
    const why = await Promise.race([stopped, agent.closed.then(() => "connection closed")]);
    ctx.err(`agent ${agent.node}: ${why}, stopping`);
    await agent.stop();
    return EXIT.ok;
  },
});
