/**
 * The entry of the one-file agent (dist/agent/jarvis-agent.mjs, made by scripts/bundle-agent.mjs)
 * that agent:install copies to hosts: `node jarvis-agent.mjs --config agent.yml`. Exit 3 for a
 * problem the operator fixes in agent.yml, like `jarvis agent`.
 */
import { runAgentService } from "./agent-service.js";
import { JarvisError } from "../errors.js";

const log = (line: string): void => void process.stderr.write(`${line}\n`);
const at = process.argv.indexOf("--config");
const file = at >= 0 ? process.argv[at + 1] : undefined;
if (!file) {
  log("usage: jarvis-agent.mjs --config agent.yml");
  process.exit(2);
}
runAgentService(file, log).then(
  () => process.exit(0),
  (err: unknown) => {
    log(`jarvis-agent: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(err instanceof JarvisError ? 3 : 10);
  },
);
