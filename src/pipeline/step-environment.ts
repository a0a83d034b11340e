/**
 * What a step process is given (DESIGN.md "The step protocol"): a clean environment with only
 * JARVIS_RUN_ID, JARVIS_STEP, JARVIS_PARAMS (JARVIS_FORCE=1 in a forced run, JARVIS_PLAN=1 in a plan run) and the secrets
 * its module's configuration names,
 * plus a fixed PATH and locale so programs behave the same under every jarvis.
 */
import { STEP_ENV } from "../protocol.js";
import type { JarvisConfig } from "../config.js";
import type { StepCommand, StepResolver } from "./step-catalog.js";

/** Enough to find programs; nothing of jarvis's own environment. */
const BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** A step ready to spawn. */
export interface PreparedStep {
  command: StepCommand;
  env: Record<string, string>;
  /** Secret values handed to the step, to be redacted from its output. */
  secrets: string[];
}

/** Resolve `uses` against the clipboard and build the step's environment. */
export function prepareStep(
  config: JarvisConfig,
  resolver: StepResolver,
  step: { uses: string; with: Record<string, unknown> },
  clipboard: Record<string, unknown>,
  runId: string,
  forced = false,
  plan = false,
): PreparedStep {
  const command = resolver.resolve(step.uses, clipboard);
  const moduleConfig = config.modules[command.module];
  const params = { ...(moduleConfig?.with ?? {}), ...step.with };
  const env: Record<string, string> = {
    PATH: BASE_PATH,
    LANG: "C.UTF-8",
    // ssh and friends look for ~/.ssh; HOME is where, not a secret.
    ...(process.env.HOME ? { HOME: process.env.HOME } : {}),
    ...(moduleConfig?.env ?? {}),
    [STEP_ENV.runId]: runId,
    [STEP_ENV.step]: `${command.module}:${command.task}`,
    [STEP_ENV.params]: JSON.stringify(params),
    ...(forced ? { [STEP_ENV.force]: "1" } : {}),
    ...(plan ? { [STEP_ENV.plan]: "1" } : {}),
  };
  return { command, env, secrets: Object.values(moduleConfig?.env ?? {}) };
}
