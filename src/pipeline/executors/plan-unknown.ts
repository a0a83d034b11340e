/**
 * A plan run never starts a step that cannot promise to change nothing: an external step (any
 * program in a steps directory) knows nothing of JARVIS_PLAN, so every executor reports it as
 * unknown instead of running it (step-sdk/plan.ts says what later steps make of that).
 */
import { parseYamlMapping } from "../../clipboard/yaml.js";
import { dumpYaml } from "../../clipboard/yaml-dump.js";
import { withUnknown } from "../../step-sdk/plan.js";
import type { StepOutcome, StepRequest } from "../../protocol.js";
import type { StepCommand } from "../step-catalog.js";

/** The outcome of an external step in a plan run: an `unknown` entry, the clipboard otherwise as it was. */
export function unknownStepOutcome(
  request: StepRequest,
  command: StepCommand,
  maxBytes: number,
): StepOutcome {
  const clipboard = parseYamlMapping(request.clipboardYaml, `clipboard of run ${request.runId}`, {
    maxBytes,
  }).value;
  const next = withUnknown(
    clipboard,
    request.step,
    `${command.command} is an external step; jarvis cannot know what it would change, so a plan run does not start it`,
  );
  return { kind: "ok", clipboardYaml: dumpYaml(next), clipboard: next, durationMs: 0 };
}
