/**
 * The redactor every output of jarvis starts from: jarvis.yml's `redact.keys`, every value of
 * every module's `env` (the environment a step is given holds its secrets; settings that are no
 * secret belong under `with`) and the secret values in every module's `with`. Runs extend it
 * with their design source and clipboards.
 */
import { createRedactor } from "./redact.js";
import type { Redactor } from "./redact.js";
import type { JarvisConfig } from "../config.js";

export function redactorForConfig(config: Pick<JarvisConfig, "redact" | "modules">): Redactor {
  const modules = Object.values(config.modules);
  return createRedactor({
    keys: config.redact.keys,
    secrets: modules.flatMap((m) => Object.values(m.env)),
  }).learn(modules.map((m) => m.with));
}
