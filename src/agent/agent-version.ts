/**
 * The agent's version, sent with every heartbeat. The bundle that agent:install copies to hosts
 * has no package.json beside it, so scripts/bundle-agent.mjs writes the version into the bundle
 * (`__JARVIS_AGENT_VERSION__`); run from the package, it is read from package.json. (Not through
 * config.ts's packageRoot: that would pull all of jarvis.yml's schemas into the bundle.)
 */
import { readFileSync } from "node:fs";

declare const __JARVIS_AGENT_VERSION__: string | undefined;

export const AGENT_VERSION: string =
  typeof __JARVIS_AGENT_VERSION__ === "string" ? __JARVIS_AGENT_VERSION__ : packageVersion();

function packageVersion(): string {
  // src/agent/ in the source tree, dist/src/agent/ when compiled.
  const levels = import.meta.url.includes("/dist/") ? "../../../" : "../../";
  const file = new URL(`${levels}package.json`, import.meta.url);
  return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
}
