/**
 * `jarvis agent --config agent.yml`: the agent on a deployed host (src/agent/). It needs no
 * jarvis.yml: --config names the agent's own file. `jarvis agent keys DIR` writes a job signing
 * key pair for jarvis (the private key stays with jarvis, the public key goes into agent.yml) and
 * jarvis's NKEY seed for the bus; `jarvis agent authorization SEED FILE [SECRETS_DIR]` writes
 * nats-server's authorization include from that seed and the agents agent:install provisioned.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runAgentService } from "../agent/agent-service.js";
import { generateSigningKeys } from "../agent/signing.js";
import { newNkeyUser } from "../nodes/nats-authorization.js";
import { publicKeyOfSeedFile, writeAuthorization } from "../nodes/agent-users.js";
import { EXIT } from "./exit-codes.js";
import { defineCommand, usageError } from "./command.js";

export const agentCommand = defineCommand({
  usage: "agent --config agent.yml | agent keys DIR | agent authorization SEED FILE [SECRETS_DIR]",
  summary:
    "run the agent of a deployed host (connects out to NATS), make jarvis's keys, or write nats-server's authorization",
  options: {},
  run: async (ctx) => {
    if (ctx.args[0] === "keys") {
      const dir = ctx.args[1];
      if (!dir || ctx.args.length > 2) throw usageError("agent keys takes one directory");
      const keys = generateSigningKeys();
      writeFileSync(join(dir, "jarvis-signing.pem"), keys.privateKeyPem, { mode: 0o600, flag: "wx" });
      writeFileSync(join(dir, "jarvis-signing.pub"), `${keys.publicKey}\n`, { flag: "wx" });
      const user = newNkeyUser();
      writeFileSync(join(dir, "jarvis.nk"), `${user.seed}\n`, { mode: 0o600, flag: "wx" });
      ctx.out(
        `wrote ${join(dir, "jarvis-signing.pem")} (keep it with jarvis), jarvis-signing.pub (agents.jarvis_public_key) and jarvis.nk (agents.nats.nkey_seed_file; NATS user ${user.publicKey})`,
      );
      return EXIT.ok;
    }
    if (ctx.args[0] === "authorization") {
      const [, seed, file, secretsDir = ".state/agents"] = ctx.args;
      if (!seed || !file || ctx.args.length > 4) {
        throw usageError(
          "agent authorization takes jarvis's seed file, the file to write and the secrets dir",
        );
      }
      const changed = await writeAuthorization(file, publicKeyOfSeedFile(seed), secretsDir);
      ctx.out(`${file} ${changed ? "written" : "unchanged"}; reload nats-server to apply it`);
      return EXIT.ok;
    }
    if (ctx.args.length > 0) throw usageError("agent takes --config agent.yml and no other words");
    const file = ctx.flags.config;
    if (!file) throw usageError("agent needs --config agent.yml");
    await runAgentService(file, ctx.err);
    return EXIT.ok;
  },
});
