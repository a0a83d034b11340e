/**
 * Many agents in one process, each with its own NATS connection and state (as Choria's emulator
 * does): the fan-out bench starts a few of these. Reads its plan as JSON on stdin, prints
 * `ready <n>` once every agent is connected, and stops on SIGTERM.
 */
import { join } from "node:path";
import { buildAgentConfig, agentYmlSchema } from "../src/agent/agent-config.js";
import { startAgent } from "../src/agent/agent.js";
import type { RunningAgent } from "../src/agent/agent.js";
import { systemFacts } from "../src/agent/system-facts.js";

interface Plan {
  url: string;
  publicKey: string;
  stateDir: string;
  agents: { host: string; seed: string }[];
}

const chunks: Buffer[] = [];
for await (const c of process.stdin) chunks.push(c as Buffer);
const plan = JSON.parse(Buffer.concat(chunks).toString()) as Plan;
const shared = await systemFacts({ system: false });
const running: RunningAgent[] = [];
const quiet = (): void => undefined;
// A few at a time: a thousand TLS-less connects at once only measure the accept queue.
for (let i = 0; i < plan.agents.length; i += 10) {
  const batch = plan.agents.slice(i, i + 10);
  running.push(
    ...(await Promise.all(
      batch.map(({ host, seed }) =>
        startAgent(
          buildAgentConfig(
            agentYmlSchema.parse({
              node: host,
              nats: { url: plan.url, nkey_seed: seed },
              jarvis_public_key: plan.publicKey,
              state_dir: join(plan.stateDir, host),
              heartbeat_seconds: 5,
              facts: { system: false, refresh_seconds: 3600 },
              allow: { operations: ["ping", "execute"], commands: ["true"] },
            }),
            plan.stateDir,
          ),
          { systemFacts: shared, log: quiet },
        ),
      ),
    )),
  );
}
process.stdout.write(`ready ${running.length}\n`);
await new Promise((resolve) => process.once("SIGTERM", resolve));
await Promise.all(running.map((a) => a.stop()));
