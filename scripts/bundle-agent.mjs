// The one-file agent that agent:install copies to hosts: dist/agent/jarvis-agent.mjs, bundled
// from the compiled entry (dist/src/agent/agent-bundle-main.js) with its npm dependencies, so a
// host needs Node.js 20 and nothing else. Run by `npm run build` after tsc.
import { readFileSync } from "node:fs";
import { rolldown } from "rolldown";

const { version } = JSON.parse(readFileSync("package.json", "utf8"));
const bundle = await rolldown({
  input: "dist/src/agent/agent-bundle-main.js",
  platform: "node",
  logLevel: "warn",
  transform: { define: { __JARVIS_AGENT_VERSION__: JSON.stringify(version) } },
});
await bundle.write({
  file: "dist/agent/jarvis-agent.mjs",
  format: "esm",
  codeSplitting: false,
  banner: `// jarvis agent ${version}: node jarvis-agent.mjs --config agent.yml (docs/agents.md)`,
});
await bundle.close();
