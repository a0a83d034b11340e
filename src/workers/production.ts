/**
 * The `production` step module. `production:check` decides whether the host serves production
 * (production-mark.ts) and stops a redeploy with a clear message unless forced (`with.force:
 * true`, or JARVIS_FORCE=1 in the step's environment for a forced run), or, in a pipeline that
 * says `with.migrate_services: true`, unless the design lists the host's services: then
 * `production:migrate` moves them to their standbys before the power-off and `production:restore`
 * brings them back (production-services.ts).
 */
import { runStepModule, StepFailure } from "../step-sdk/define-step.js";
import type { Clipboard, StepContext } from "../step-sdk/define-step.js";
import { hostnameOf, productionFields, productionMark } from "./production-mark.js";
import { migrate, restore, servicesOf } from "./production-services.js";
import { planCheck, planMigrate, planRestore } from "./production-plan.js";

/** Fail (not retryable) when the host is in production, not forced, and lists no services. */
export function check(clipboard: Clipboard, ctx: StepContext): Clipboard {
  const fields = productionFields(ctx.params);
  const hostname = hostnameOf(clipboard);
  const marked = productionMark(clipboard, fields);
  const forced = ctx.params.force === true || ctx.env.JARVIS_FORCE === "1";
  // Only a pipeline that runs production:migrate before the power-off says so (redeploy.yml):
  // destroy has nowhere to move the services to, so listing them must not let it through.
  const services = ctx.params.migrate_services === true ? servicesOf(clipboard) : [];
  if (marked && !forced && services.length === 0) {
    throw new StepFailure(
      "E_PRODUCTION_HOST",
      `production: ${hostname} serves production (${marked} is set); redeploying it would take it down. If that is intended, run again forced (with.force: true)${ctx.params.migrate_services === true ? ", or list its services with their standbys in the design so they are moved first" : ""}`,
    );
  }
  if (marked && forced)
    ctx.log(`production: ${hostname} serves production (${marked}); going ahead because the run is forced`);
  else if (marked)
    ctx.log(
      `production: ${hostname} serves production (${marked}); going ahead because its services (${services.map((s) => s.name).join(", ")}) move to their standbys first`,
    );
  else ctx.log(`production: ${hostname} is not marked as production (${fields.join(", ")})`);
  return {
    ...clipboard,
    production: { serving: Boolean(marked), forced, checked_at: new Date().toISOString() },
  };
}

runStepModule(
  import.meta.url,
  { check, migrate, restore },
  { plan: { check: planCheck(check), migrate: planMigrate, restore: planRestore } },
);
