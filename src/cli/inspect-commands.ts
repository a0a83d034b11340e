/** Commands that look at runs: status, log, clipboard, diff, history, pipelines, audit. */
import { dumpYaml } from "../clipboard/yaml.js";
import { EXIT } from "./exit-codes.js";
import { groupLine, logLine, runJson, statusLine, stepTable } from "./format.js";
import { oneTarget, usageError, withJarvis } from "./command.js";
import type { Command } from "./command.js";

function stepNumber(raw: string | undefined, what: string): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw))
    throw usageError(
      `${what} must be a step number (1 for the first step, 0 for the design as loaded), got '${raw}'`,
    );
  return Number(raw);
}

/** status, log, clipboard, diff, history, pipelines, audit. */
export const inspectCommands: Record<string, Command> = {
  status: {
    usage: "status [host|run] [--json]",
    summary: "where each host's latest run is, or where it failed and why",
    run: (ctx) => {
      if (ctx.args.length > 1) throw usageError("status takes at most one host or run id");
      return withJarvis(ctx, async (jarvis) => {
        const details = await jarvis.control.status(ctx.args[0]);
        if (ctx.flags.json) {
          const json = details.map((d) => runJson(d.run, d.steps));
          ctx.out(JSON.stringify(ctx.args[0] && !ctx.args[0].startsWith("g-") ? json[0] : json, null, 2));
        } else if (details.length === 0) {
          ctx.out("no runs yet; start one with: jarvis run deploy examples/loki.yml");
        } else {
          for (const d of details) {
            ctx.out(statusLine(d));
            if (ctx.args[0] && details.length === 1) ctx.out(stepTable(d.steps));
          }
          const groups = new Set(details.map((d) => d.run.group).filter((g): g is string => g !== null));
          for (const group of groups) ctx.out(groupLine(await jarvis.control.status(group)));
        }
        return EXIT.ok;
      });
    },
  },
  log: {
    usage: "log <host|run>",
    summary: "the run's log: every step's progress lines, attempts and errors",
    run: (ctx) =>
      withJarvis(ctx, async (jarvis) => {
        const lines = await jarvis.control.log(oneTarget(ctx, "log"));
        if (ctx.flags.json)
          ctx.out(
            JSON.stringify(
              lines.map((l) => ({
                at: new Date(l.at).toISOString(),
                step: l.stepIndex + 1,
                attempt: l.attempt,
                stream: l.stream,
                line: l.line,
              })),
            ),
          );
        else for (const l of lines) ctx.out(logLine(l));
        return EXIT.ok;
      }),
  },
  clipboard: {
    usage: "clipboard <host|run> [--step N] [--json]",
    summary: "the clipboard after step N (default: the latest), secrets shown as ***",
    run: (ctx) =>
      withJarvis(ctx, async (jarvis) => {
        const value = await jarvis.control.clipboardValue(
          oneTarget(ctx, "clipboard"),
          stepNumber(ctx.flags.step, "--step"),
        );
        ctx.out(ctx.flags.json ? JSON.stringify(value, null, 2) : dumpYaml(value).trimEnd());
        return EXIT.ok;
      }),
  },
  diff: {
    usage: "diff <host|run> <step>",
    summary: "what step N added, changed and removed on the clipboard",
    run: (ctx) => {
      const [target, raw] = ctx.args;
      if (!target || raw === undefined || ctx.args.length > 2)
        throw usageError("diff takes a host or run id and a step number");
      return withJarvis(ctx, async (jarvis) => {
        ctx.out(await jarvis.control.diff(target, stepNumber(raw, "step")!));
        return EXIT.ok;
      });
    },
  },
  history: {
    usage: "history <host> [--limit N] [--json]",
    summary: "a host's runs, newest first",
    run: (ctx) =>
      withJarvis(ctx, async (jarvis) => {
        const limit = ctx.flags.limit ? Number(ctx.flags.limit) : 20;
        const runs = await jarvis.control.history(oneTarget(ctx, "history"), limit);
        if (ctx.flags.json)
          ctx.out(
            JSON.stringify(
              runs.map((r) => runJson(r)),
              null,
              2,
            ),
          );
        else if (runs.length === 0) ctx.out(`no runs for ${ctx.args[0]}`);
        else
          for (const run of runs)
            ctx.out(`${new Date(run.createdAt).toISOString()} ${statusLine({ run, steps: [] })}`);
        return EXIT.ok;
      }),
  },
  pipelines: {
    usage: "pipelines [--json]",
    summary: "the pipelines there are, and their steps",
    run: (ctx) =>
      withJarvis(ctx, async (jarvis) => {
        const list = await jarvis.control.pipelines();
        if (ctx.flags.json) ctx.out(JSON.stringify(list, null, 2));
        else for (const p of list) ctx.out(`${p.name}: ${p.description}\n  ${p.steps.join(" → ")}`);
        return EXIT.ok;
      }),
  },
  audit: {
    usage: "audit [--limit N] [--json]",
    summary: "who asked for what, where, and whether it was allowed",
    run: (ctx) =>
      withJarvis(ctx, async (jarvis) => {
        const entries = await jarvis.store.listAudit(ctx.flags.limit ? Number(ctx.flags.limit) : 50);
        if (ctx.flags.json) ctx.out(JSON.stringify(entries, null, 2));
        else
          for (const e of entries)
            ctx.out(
              `${new Date(e.at).toISOString()} ${e.decision.padEnd(7)} ${e.identity} ${e.network}:${e.room} "${e.command}"${e.runId ? ` run ${e.runId}` : ""}${e.reason ? ` (${e.reason})` : ""}`,
            );
        return EXIT.ok;
      }),
  },
};
