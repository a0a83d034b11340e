/**
 * Run events, as the store's feed carries them (the types live in protocol.ts: they cross
 * processes through the store, and the API's live follow). What people see of a position.
 */
import type { StepPosition } from "../protocol.js";

export type { RunEvent, RunEventBody, RunSummary, StepPhase, StepPosition } from "../protocol.js";

/** "2/4 bad:b" for a main step, "on_failure 1/1 ok:cleanup" for an on_failure one. */
export function positionText(step: StepPosition): string {
  const at = `${step.index + 1}/${step.total} ${step.name}`;
  return step.phase === "on_failure" ? `on_failure ${at}` : at;
}
