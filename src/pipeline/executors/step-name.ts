/**
 * The `module:task` an executor is asked to run. A pipeline may say `provider:deploy`; which
 * provider that is comes from the clipboard, which the engine holds, so the engine decides it
 * and the executor never needs the clipboard parsed.
 */
import { PipelineError } from "../../errors.js";
import { providerOf } from "../../providers/host-address.js";
import { builtinProviders } from "../../providers/registry.js";
import { PROVIDER_MODULE } from "../pipeline.js";
import { splitUses } from "../step-catalog.js";

/** `uses` with the pseudo-module `provider` replaced by the design's provider. */
export function concreteStepName(uses: string, clipboard: () => Record<string, unknown>): string {
  const parts = splitUses(uses);
  if (!parts || parts.module !== PROVIDER_MODULE) return uses;
  const provider = providerOf(clipboard());
  if (!Object.hasOwn(builtinProviders, provider)) {
    const known = Object.keys(builtinProviders).sort();
    throw new PipelineError(
      "E_STEP_UNKNOWN_PROVIDER",
      `step ${uses}: the design's instance.provider is '${provider}', but there is no such provider ` +
        `(providers: ${known.length ? known.join(", ") : "none"}); fix instance.provider in the design`,
    );
  }
  return `${provider}:${parts.task}`;
}
