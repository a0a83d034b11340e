/** Run a compiled provider step exactly as the engine does: task in argv, clipboard on stdin, params and secrets in a clean env. */
import { runStep as runBuiltinStep } from "../workers/run-step.js";
import type { StepResult as BuiltinStepResult } from "../workers/run-step.js";

/** How a step process ended; `clipboard` is the input when stdout was empty. */
export interface StepResult extends BuiltinStepResult {
  clipboard: Record<string, unknown>;
}

/** Spawn `node dist/src/providers/<module>-step.js <task>` with the clipboard on stdin; bounded by `timeoutMs`. */
export async function runStep(
  module: string,
  task: string,
  clipboard: Record<string, unknown>,
  params: Record<string, unknown>,
  secrets: Record<string, string>,
  timeoutMs = 60_000,
): Promise<StepResult> {
  const result = await runBuiltinStep(`providers/${module}-step`, task, clipboard, {
    params,
    env: secrets,
    cwd: process.cwd(),
    timeoutMs,
    runId: "run-test-1",
    step: `${module}:${task}`,
  });
  return { ...result, clipboard: result.clipboard ?? clipboard };
}
