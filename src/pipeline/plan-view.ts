/**
 * A plan run's result as people see it: the compact line chat shows when the run ends, and the
 * whole plan the CLI prints (`jarvis run ... --plan`). The entries are the clipboard's `plan:`
 * list (step-sdk/plan.ts).
 */
import { planCounts, planEntries, planMarks } from "../step-sdk/plan.js";
import type { PlanEntry } from "../step-sdk/plan.js";

/** The plan on a plan run's final clipboard. */
export interface PlanView {
  entries: PlanEntry[];
  /** Steps that could not plan: what follows them may not hold. */
  unknown: string[];
}

/** Read the plan from a clipboard. */
export function planView(clipboard: Record<string, unknown>): PlanView {
  return { entries: planEntries(clipboard), unknown: planMarks(clipboard).unknown };
}

/** `loki: plan: 3 create, 2 update, 0 delete; details: jarvis clipboard r123`. */
export function planSummaryLine(host: string, runId: string, view: PlanView, botName = "jarvis"): string {
  const c = planCounts(view.entries);
  const unknown = c.unknown > 0 ? `, ${c.unknown} unknown (${view.unknown.join(", ")})` : "";
  return `${host}: plan: ${c.create} create, ${c.update} update, ${c.delete} delete${unknown}; details: ${botName} clipboard ${runId}`;
}

/** The whole plan, one block per entry that changes something; `none` entries in one line each. */
export function planLines(view: PlanView): string[] {
  const lines: string[] = [];
  for (const e of view.entries) {
    const head = `${e.action.padEnd(7)} ${e.target}  [${e.step}]`;
    lines.push(head);
    if (e.action === "none") continue;
    if (e.before !== null && e.before !== undefined)
      lines.push(`          before: ${JSON.stringify(e.before)}`);
    if (e.after !== null && e.after !== undefined) lines.push(`          after:  ${JSON.stringify(e.after)}`);
    if (e.after_unknown) lines.push(`          (after ${e.after_unknown.join(", ")}, which could not plan)`);
  }
  return lines;
}
