/**
 * The places steps can run, by name: `local` (a fork here) always, `nats` (a `jarvis worker`
 * elsewhere) when jarvis.yml has `executor: {nats: {url}}`, and then it is the one runs use.
 */
import { createLocalForkExecutor } from "./local-fork.js";
import { createNatsExecutor } from "./nats-executor.js";
import type { JarvisConfig } from "../../config.js";
import type { StepResolver } from "../step-catalog.js";
import type { StepExecutor } from "./step-executor.js";

/** Every executor kind jarvis knows. */
export interface Executors {
  local: StepExecutor;
  nats?: StepExecutor;
  /** The one runs use, as jarvis.yml chose. */
  chosen: StepExecutor;
  /** Close what the executors hold open (the NATS connection). */
  close(): Promise<void>;
}

/** Build the executors this process can use. */
export function createExecutors(config: JarvisConfig, resolver: StepResolver): Executors {
  const local = createLocalForkExecutor(config, resolver);
  if (config.executor.kind === "local") return { local, chosen: local, close: () => Promise.resolve() };
  const nats = createNatsExecutor({ bus: config.executor.bus });
  return { local, nats, chosen: nats, close: () => nats.close() };
}
