/**
 * The agent as a long-running service: start it from agent.yml and stop it cleanly on SIGTERM
 * or SIGINT (systemd's stop, the local provider's power-off). Shared by `jarvis agent --config`
 * and the bundle agent:install copies to hosts (agent-bundle-main.ts).
 */
import { loadAgentConfig } from "./agent-config.js";
import { startAgent } from "./agent.js";

export async function runAgentService(configFile: string, log: (line: string) => void): Promise<void> {
  const stopped = new Promise<string>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  const agent = await startAgent(loadAgentConfig(configFile), { log });
  const why = await Promise.race([stopped, agent.closed.then(() => "connection closed")]);
  log(`agent ${agent.node}: ${why}, stopping`);
  await agent.stop();
}
