/** The places steps can run, by name. Only `local` exists today; a NATS worker pool comes next. */
import { createLocalForkExecutor } from "./local-fork.js";
import type { JarvisConfig } from "../../config.js";
import type { StepResolver } from "../step-catalog.js";
import type { StepExecutor } from "./step-executor.js";

/** Every executor kind jarvis knows. */
export interface Executors {
  local: StepExecutor;
}

/** The name of an executor. */
export type ExecutorName = keyof Executors;

/** Build the executors this process can use. */
export function createExecutors(config: JarvisConfig, resolver: StepResolver): Executors {
  return { local: createLocalForkExecutor(config, resolver) };
}
