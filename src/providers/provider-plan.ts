/**
 * The provider tasks in a plan run: they look (find, list) and never create, power off or delete.
 * A node deploy would create is put on the clipboard with placeholders for what only its creation
 * tells (id, address, ssh port), so later steps plan against it without contacting it; a node an
 * earlier step would delete is marked gone, so a later deploy plans a create.
 */
import { StepFailure } from "../step-sdk/define-step.js";
import type { Clipboard, StepContext } from "../step-sdk/define-step.js";
import {
  isPlaceholder,
  placeholderText,
  planMarks,
  withMarks,
  withPlaceholders,
  withPlanEntries,
} from "../step-sdk/plan.js";
import type { PlanEntry } from "../step-sdk/plan.js";
import type { HostInfo, HostSpec, Provider, ProviderTask } from "./provider.js";

/** What the planner needs from provider-step.ts (passed in, to keep one direction of imports). */
export interface ProviderPlanTools {
  name: string;
  label(clipboard: Clipboard): string;
  spec(clipboard: Clipboard): HostSpec;
  section(info: HostInfo): Record<string, unknown>;
}

/** The mark of a node a planned delete removes: `<provider>:<label>`. */
function goneMark(name: string, label: string): string {
  return `${name}:${label}`;
}

/** True when the provider's section on the clipboard is a node this plan would create. */
export function plannedNode(clipboard: Clipboard, provider: string): boolean {
  return isPlaceholder(clipboard, `${provider}.id`);
}

/** Plan one provider task. */
export async function planProviderTask(
  task: ProviderTask,
  provider: Provider,
  tools: ProviderPlanTools,
  clipboard: Clipboard,
  ctx: StepContext,
): Promise<Clipboard> {
  const { name } = tools;
  const entry = (e: Omit<PlanEntry, "step">): PlanEntry => ({ step: ctx.step, ...e });
  if (task === "list") {
    const hosts = await provider.list(ctx.signal);
    return withPlanEntries({ ...clipboard, [`${name}_hosts`]: hosts.map(tools.section) }, [
      entry({ action: "none", target: `${name} nodes`, before: null, after: null }),
    ]);
  }
  const label = tools.label(clipboard);
  const target = `${name} node ${label}`;
  if (plannedNode(clipboard, name)) {
    // Created by this plan: nothing to look up; the placeholders stand until the real run.
    const action = task === "delete" ? "delete" : "none";
    return withPlanEntries(clipboard, [entry({ action, target, before: null, after: null })]);
  }
  const gone = planMarks(clipboard).gone.includes(goneMark(name, label));
  const found = gone ? undefined : await provider.find(label, ctx.signal);
  const before = found ? tools.section(found) : null;
  const withSection = (next: Clipboard, section: Record<string, unknown> | undefined): Clipboard => {
    const out: Clipboard = { ...next };
    if (section) out[name] = section;
    else delete out[name];
    return out;
  };
  switch (task) {
    case "deploy": {
      if (found) {
        const after = { ...tools.section(found), state: "running" };
        const action = found.state === "running" ? "none" : "update";
        ctx.log(`${name}: plan: ${label} exists (${found.id}, ${found.state}); would not create another`);
        return withPlanEntries(withSection(clipboard, after), [entry({ action, target, before, after })]);
      }
      const create = provider.planCreate(tools.spec(clipboard));
      ctx.log(`${name}: plan: would create ${label}: ${JSON.stringify(create)}`);
      const placeholder = (what: string): string => placeholderText(what, label, ctx.step);
      const values: Record<string, string> = { [`${name}.id`]: placeholder("node id") };
      for (const field of provider.newNodeAddresses)
        values[`${name}.${field}`] = placeholder(field === "ipv4" ? "ipv4" : "ipv6, if it gets one");
      // The local provider's hosts get a loopback port of their own.
      if (name === "local") values[`${name}.ssh_port`] = placeholder("ssh port");
      const planned = withSection(clipboard, { label, state: "running" });
      return withPlanEntries(withPlaceholders(planned, values), [
        entry({ action: "create", target, before: null, after: create }),
      ]);
    }
    case "ip":
    case "status": {
      if (!found && task === "ip")
        throw new StepFailure(
          "E_HOST_NOT_FOUND",
          `${name}: no host labelled ${label}; run ${name}:deploy first`,
        );
      return withPlanEntries(withSection(clipboard, before ?? undefined), [
        entry({ action: "none", target, before, after: before }),
      ]);
    }
    case "poweroff": {
      const off = found && found.state !== "offline";
      const after = found ? { ...tools.section(found), state: "offline" } : null;
      return withPlanEntries(withSection(clipboard, after ?? undefined), [
        entry({ action: off ? "update" : "none", target, before, after }),
      ]);
    }
    case "delete": {
      const next = withMarks(withSection(clipboard, undefined), (m) =>
        found ? { ...m, gone: [...m.gone, goneMark(name, label)] } : m,
      );
      return withPlanEntries(next, [
        entry({ action: found ? "delete" : "none", target, before, after: null }),
      ]);
    }
  }
}
