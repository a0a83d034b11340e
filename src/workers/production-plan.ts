/**
 * The production tasks in a plan run. check only reads the clipboard, so its plan is the check
 * itself (a production host stops the plan where it would stop the run). migrate and restore
 * would re-point service names: the plan lists each name and where it would point, and moves
 * nothing (the standby checks that decide whether the move happens are the real run's).
 */
import type { Clipboard, StepContext } from "../step-sdk/define-step.js";
import { placeholderText, withPlanEntries } from "../step-sdk/plan.js";
import type { PlanEntry } from "../step-sdk/plan.js";
import { hostnameOf, productionFields, productionMark } from "./production-mark.js";
import {
  hostTarget,
  inZone,
  migratedOf,
  productionSection,
  qualify,
  serviceDnsSettings,
  servicesOf,
} from "./production-services.js";
import type { MigratedService } from "./production-services.js";

/** Plan of check: the check, and a `none` entry saying what it found. */
export function planCheck(check: (clipboard: Clipboard, ctx: StepContext) => Clipboard) {
  return (clipboard: Clipboard, ctx: StepContext): Clipboard =>
    withPlanEntries(check(clipboard, ctx), [
      {
        step: ctx.step,
        action: "none",
        target: `production check of ${hostnameOf(clipboard)}`,
        before: null,
        after: null,
      },
    ]);
}

/** Plan of migrate: each service name it would point at its standby (CNAME). */
export function planMigrate(clipboard: Clipboard, ctx: StepContext): Clipboard {
  const services = servicesOf(clipboard);
  const host = hostnameOf(clipboard);
  if (services.length === 0 || !productionMark(clipboard, productionFields(ctx.params)))
    return withPlanEntries(clipboard, [
      { step: ctx.step, action: "none", target: `services of ${host}`, before: null, after: null },
    ]);
  const settings = serviceDnsSettings(ctx);
  const entries: PlanEntry[] = [];
  const migrated: MigratedService[] = [];
  for (const service of services) {
    const dns = inZone(service.dns, settings.zone, `services ${service.name}: dns`);
    const standby = qualify(service.standby, settings.zone);
    entries.push({
      step: ctx.step,
      action: "update",
      target: `${dns}. CNAME`,
      before: null,
      after: `CNAME ${standby}`,
    });
    const address = placeholderText(`address of standby ${standby}`, host, ctx.step);
    migrated.push({ name: service.name, dns, standby, address, check: service.check });
  }
  const section = productionSection(clipboard);
  return withPlanEntries({ ...clipboard, production: { ...section, migrated } }, entries);
}

/** Plan of restore: each moved name it would point back at the host. */
export function planRestore(clipboard: Clipboard, ctx: StepContext): Clipboard {
  const section = productionSection(clipboard);
  const migrated = migratedOf(section);
  if (migrated.length === 0)
    return withPlanEntries(clipboard, [
      {
        step: ctx.step,
        action: "none",
        target: `services of ${hostnameOf(clipboard)}`,
        before: null,
        after: null,
      },
    ]);
  const target = hostTarget(clipboard, serviceDnsSettings(ctx).zone);
  const entries: PlanEntry[] = migrated.map((s) => ({
    step: ctx.step,
    action: "update",
    target: `${s.dns}. CNAME`,
    before: `CNAME ${s.standby}`,
    after: `CNAME ${target}`,
  }));
  const restored = migrated.map((s) => ({ name: s.name, dns: s.dns, to: target }));
  return withPlanEntries({ ...clipboard, production: { ...section, migrated: [], restored } }, entries);
}
