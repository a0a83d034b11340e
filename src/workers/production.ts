/**
 * The `production` step module: `production:check` decides whether the host serves production,
 * from the design (`instance.production`, also filled in from LDAP by the `cn=` source) or from
 * the clipboard paths in `with.fields`, and stops a redeploy with a clear message unless forced
 * (`with.force: true`, or JARVIS_FORCE=1 in the step's environment for a forced run).
 */
import { runStepModule, StepFailure } from "../step-sdk/define-step.js";
import type { Clipboard, StepContext } from "../step-sdk/define-step.js";

/** Clipboard paths consulted by default. */
export const DEFAULT_PRODUCTION_FIELDS = ["instance.production", "ldap.production"];

/** Whether a value marks production: true, "true"/"yes"/"production" (LDAP attributes are text). */
export function isProduction(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(isProduction);
  if (value === true) return true;
  return (
    typeof value === "string" && ["true", "yes", "production", "prod"].includes(value.trim().toLowerCase())
  );
}

/** Fail (not retryable) when the host is in production and the run is not forced. */
export function check(clipboard: Clipboard, ctx: StepContext): Clipboard {
  const fields = ctx.params.fields === undefined ? DEFAULT_PRODUCTION_FIELDS : ctx.params.fields;
  if (!Array.isArray(fields) || !fields.every((f) => typeof f === "string")) {
    throw new StepFailure(
      "E_STEP_PARAMS",
      "production: with.fields must be a list of clipboard paths such as instance.production",
    );
  }
  const hostname = String(
    (clipboard.instance as Record<string, unknown> | undefined)?.hostname ?? "the host",
  );
  const marked = (fields as string[]).find((path) => isProduction(lookup(clipboard, path)));
  const forced = ctx.params.force === true || ctx.env.JARVIS_FORCE === "1";
  if (marked && !forced) {
    throw new StepFailure(
      "E_PRODUCTION_HOST",
      `production: ${hostname} serves production (${marked} is set); redeploying it would take it down. If that is intended, run again forced (with.force: true)`,
    );
  }
  if (marked)
    ctx.log(`production: ${hostname} serves production (${marked}); going ahead because the run is forced`);
  else ctx.log(`production: ${hostname} is not marked as production (${(fields as string[]).join(", ")})`);
  return {
    ...clipboard,
    production: { serving: Boolean(marked), forced, checked_at: new Date().toISOString() },
  };
}

function lookup(clipboard: Clipboard, path: string): unknown {
  let node: unknown = clipboard;
  for (const part of path.split(".")) {
    node =
      node && typeof node === "object" && !Array.isArray(node) && Object.hasOwn(node, part)
        ? (node as Record<string, unknown>)[part]
        : undefined;
  }
  return node;
}

runStepModule(import.meta.url, { check });
