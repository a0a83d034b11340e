/**
 * The schema of a step module's `with` parameters, and the check both a pipeline's `with` and
 * jarvis.yml's `modules.<module>.with` go through when they are loaded (not half-way through a
 * run). External steps declare no schema: any parameters go to them as they are.
 */
import { z } from "zod";
import { builtinProviders } from "../providers/registry.js";
import { builtinWorkers } from "../workers/registry.js";
import { check } from "../schema/schema-problem.js";
import type { ProblemOptions, SchemaProblem } from "../schema/schema-problem.js";
import { PROVIDER_MODULE } from "./pipeline.js";

/**
 * `provider:<task>` runs whichever provider the design names, so it takes any provider's
 * parameters (the provider schemas agree on the names they share).
 */
const anyProviderParams = z
  .strictObject(Object.assign({}, ...Object.values(builtinProviders).map((p) => p.params.shape)))
  .partial();

/** The parameter schema of a built-in module; undefined for external modules (they take any). */
export function paramsSchema(module: string): z.ZodObject | undefined {
  if (Object.hasOwn(builtinWorkers, module)) return builtinWorkers[module]!.params;
  if (Object.hasOwn(builtinProviders, module)) return builtinProviders[module]!.params;
  if (module === PROVIDER_MODULE) return anyProviderParams;
  return undefined;
}

/** The first problem with `params` for `module` (in file order, via options.lineOf), if any. */
export function checkStepParams(
  module: string,
  params: Record<string, unknown>,
  options: ProblemOptions = {},
): SchemaProblem | undefined {
  const schema = paramsSchema(module);
  if (!schema) return undefined;
  const result = check(schema, params, { noun: "parameter", ...options });
  return result.ok ? undefined : result.problem;
}
