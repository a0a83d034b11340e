/**
 * Where one attempt of one step runs. The engine hands an executor a StepRequest (protocol.ts) and
 * reads its reports: the step's pid once it runs, its log lines, and one outcome. The local fork
 * runs the step here; a NATS worker will run it on another machine with the same protocol there.
 */
import type { StepReport, StepRequest } from "../../protocol.js";

/** Runs step attempts somewhere. */
export interface StepExecutor {
  /**
   * Run one attempt. The stream ends after its `outcome` report. Aborting `signal` cancels the
   * attempt (outcome `cancelled`). Log lines and error messages arrive already redacted of the
   * secrets the executor handed the step.
   */
  run(request: StepRequest, signal: AbortSignal): AsyncIterable<StepReport>;
}
