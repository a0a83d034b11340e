/**
 * Commands that start or steer runs: run, retry, replay, resume, cancel. All but resume act here
 * or through a jarvis server (with-backend.ts).
 */
import { readFileBounded } from "../io/bounded-read.js";
import { DEFAULT_DESIGN_MAX_BYTES } from "../clipboard/sources/design-source.js";
import { EXIT } from "./exit-codes.js";
import { groupLine, runJson, statusLine } from "./format.js";
import { defineCommand, dispatch, oneTarget, usageError, withJarvis } from "./command.js";
import type { CliCommand, CommandContext } from "./command.js";
import { withBackend } from "./with-backend.js";
import { executeHere } from "./local-backend.js";
import type { CliBackend, StartedRuns } from "./backend.js";
import type { RunShown } from "./format.js";
import { positionText } from "../pipeline/run-events.js";
import type { WireRunEvent } from "../api/response-schemas.js";
import { planLines, planView } from "../pipeline/plan-view.js";

/** How a followed event looks on the terminal, or undefined for events not shown. */
export function progressLine(event: WireRunEvent): string | undefined {
  if (!("step" in event)) return undefined;
  const where = `${event.host}: ${positionText(event.step)}`;
  switch (event.type) {
    case "step-started":
      return `${where}${event.attempt > 1 ? ` (attempt ${event.attempt})` : ""}`;
    case "step-log":
      return event.stream === "stderr" ? `    ${event.line}` : undefined;
    case "step-retry":
      return `${where} failed (${event.error}); retrying in ${event.waitMs} ms`;
    case "step-finished":
      return event.state === "ok" ? undefined : `${where} ${event.state}`;
  }
}

/**
 * See started runs to their end, printing their progress (unless --json), then each run's status
 * line (and plan, for a plan run) or their JSON; resolves to the exit code.
 */
async function seeThrough(
  ctx: CommandContext<{ json: boolean }>,
  started: StartedRuns,
  /** A plan run's clipboard, to print its plan: whole, after its status line; under `plan` in JSON. */
  planOf?: (runId: string) => Promise<Record<string, unknown>>,
): Promise<number> {
  const print = (event: WireRunEvent): void => {
    const line = progressLine(event);
    if (line !== undefined) ctx.out(line);
  };
  const details = await started.finish(ctx.flags.json ? undefined : print);
  const plans = new Map<string, ReturnType<typeof planView>>();
  if (planOf)
    for (const d of details)
      if (d.run.state === "succeeded") plans.set(d.run.id, planView(await planOf(d.run.id)));
  if (ctx.flags.json) {
    const json = details.map((d) => {
      const plan = plans.get(d.run.id);
      const base = runJson(d.run, d.steps, d.approvals);
      return plan ? { ...base, plan: plan.entries, plan_unknown: plan.unknown } : base;
    });
    ctx.out(JSON.stringify(json.length === 1 ? json[0] : json, null, 2));
  } else {
    for (const d of details) {
      ctx.out(statusLine(d));
      const plan = plans.get(d.run.id);
      if (plan)
        for (const line of [`${d.run.host}: plan (nothing was changed):`, ...planLines(plan)]) ctx.out(line);
    }
    if (details.length > 1) ctx.out(groupLine(details));
  }
  return details.every((d) => d.run.state === "succeeded") ? EXIT.ok : EXIT.runFailed;
}

/** After a plan-then-apply's plan: the apply run that waits on each host, and how to decide on it. */
async function sayAwaiting(
  backend: CliBackend,
  ctx: Pick<CommandContext<object>, "out">,
  plans: readonly RunShown[],
): Promise<void> {
  for (const plan of plans) {
    const { details } = await backend.status(plan.host);
    const apply = details[0]?.run;
    if (apply?.state !== "awaiting_approval") continue;
    ctx.out(
      `${apply.host}: run ${apply.id} applies this plan once approved: jarvis approve ${apply.id} | jarvis deny ${apply.id} (jarvis start executes it)`,
    );
  }
}

const runOptions = {
  json: { type: "boolean", default: false },
  detach: { type: "boolean", short: "d", default: false },
  force: { type: "boolean", default: false },
} as const;

const runOnlyOptions = {
  ...runOptions,
  plan: { type: "boolean", default: false },
  "plan-then-apply": { type: "boolean", default: false },
} as const;

/** run, retry, replay, resume, cancel. */
export const runCommands: Record<string, CliCommand> = {
  run: defineCommand({
    usage: "run <pipeline> <design> [--plan | --plan-then-apply] [--force] [--detach] [--json]",
    summary:
      "run a pipeline on a design (file, URL, gist:ID, cn=host); --detach queues it for `jarvis start`; --plan shows what it would change, changing nothing; --plan-then-apply shows the plan, then applies it once someone approves",
    options: runOnlyOptions,
    remote: true,
    run: (ctx) => {
      const [pipeline, source] = ctx.args;
      if (!pipeline || !source || ctx.args.length > 2) throw usageError("run takes a pipeline and a design");
      const { force, plan, detach } = ctx.flags;
      const planThenApply = ctx.flags["plan-then-apply"];
      if (planThenApply && plan) throw usageError("give --plan or --plan-then-apply, not both");
      return withBackend(ctx, async (backend) => {
        const started = await backend.start({
          pipeline,
          source,
          force,
          plan,
          planThenApply,
          foreground: !detach,
        });
        const { runs } = started;
        if (detach) {
          ctx.out(
            ctx.flags.json
              ? JSON.stringify(runs.length === 1 ? runJson(runs[0]!) : runs.map((r) => runJson(r)))
              : runs.map((r) => r.id).join("\n"),
          );
          return EXIT.ok;
        }
        if (!ctx.flags.json)
          for (const run of runs) ctx.out(`${run.host}: run ${run.id} of ${run.pipeline} started`);
        const code = await seeThrough(
          ctx,
          started,
          plan || planThenApply ? (id) => backend.clipboard(id, undefined) : undefined,
        );
        if (planThenApply && code === EXIT.ok && !ctx.flags.json) await sayAwaiting(backend, ctx, runs);
        return code;
      });
    },
  }),
  retry: defineCommand({
    usage: "retry <host|run> [--clipboard FILE] [--force] [--detach] [--json]",
    summary: "retry a failed or cancelled run from its failed step, optionally on an edited clipboard",
    options: { ...runOptions, clipboard: { type: "string" } },
    remote: true,
    run: async (ctx) => {
      const target = oneTarget(ctx, "retry");
      const file = ctx.flags.clipboard;
      // Read here, where the operator edited it, whichever jarvis retries the run.
      const edited =
        file === undefined
          ? undefined
          : (
              await readFileBounded(file, {
                maxBytes: ctx.server === undefined ? ctx.config().designs.maxBytes : DEFAULT_DESIGN_MAX_BYTES,
                what: "clipboard file",
              })
            ).toString("utf8");
      return withBackend(ctx, async (backend) => {
        const started = await backend.retry(target, {
          force: ctx.flags.force,
          foreground: !ctx.flags.detach,
          clipboardYaml: edited,
        });
        const run = started.runs[0]!;
        if (ctx.flags.detach) {
          ctx.out(ctx.flags.json ? JSON.stringify(runJson(run)) : run.id);
          return EXIT.ok;
        }
        return seeThrough(ctx, started);
      });
    },
  }),
  replay: defineCommand({
    usage:
      "replay <run|host> on <host> [<host> ...] | replay <run|host> --source DESIGN ... [--detach] [--json]",
    summary: "run a past run's pipeline again (same parameters and force) on other hosts' designs",
    options: {
      json: runOptions.json,
      detach: runOptions.detach,
      source: { type: "string", multiple: true },
    },
    remote: true,
    run: (ctx) => {
      const [target, on, ...hosts] = ctx.args;
      const sources = ctx.flags.source ?? [];
      if (!target) throw usageError("replay takes the run or host to replay");
      if (sources.length > 0 && on !== undefined)
        throw usageError("replay goes either 'on <host> ...' or to --source designs, not both");
      if (sources.length === 0 && (on?.toLowerCase() !== "on" || hosts.length === 0))
        throw usageError(
          "replay takes 'on' and the hosts to replay on, e.g. jarvis replay loki on thor odin",
        );
      const onto = sources.length > 0 ? { sources } : { hosts };
      return withBackend(ctx, async (backend) => {
        const started = await backend.replay(target, onto, !ctx.flags.detach);
        const { runs } = started;
        if (ctx.flags.detach) {
          ctx.out(
            ctx.flags.json ? JSON.stringify(runs.map((r) => runJson(r))) : runs.map((r) => r.id).join("\n"),
          );
          return EXIT.ok;
        }
        if (!ctx.flags.json)
          for (const run of runs) ctx.out(`${run.host}: run ${run.id} of ${run.pipeline} started (replay)`);
        return seeThrough(ctx, started);
      });
    },
  }),
  resume: defineCommand({
    usage: "resume <host|run> [--json]",
    summary: "take over an interrupted run (its process died) and finish it here",
    options: { json: runOptions.json },
    run: (ctx) => {
      const word = oneTarget(ctx, "resume");
      return withJarvis(ctx, async (jarvis) => {
        // The run is looked up first so that its progress can be followed while resume executes it.
        const run = await jarvis.control.find(await jarvis.control.resolveTarget(word));
        const fromSeq = await jarvis.control.latestSeq();
        const finish: StartedRuns["finish"] = (onEvent) =>
          executeHere(
            jarvis,
            ctx,
            fromSeq,
            [run],
            async () => [(await dispatch(jarvis, ctx, { verb: "resume", target: run.id }, "resumed")).run],
            onEvent,
          );
        return seeThrough(ctx, { runs: [run], finish });
      });
    },
  }),
  cancel: defineCommand({
    usage: "cancel <host|run> [--json]",
    summary: "cancel a queued or running run (its step is killed, on_failure steps run)",
    options: { json: runOptions.json },
    remote: true,
    run: (ctx) => {
      const target = oneTarget(ctx, "cancel");
      return withBackend(ctx, async (backend) => {
        const run = await backend.cancel(target);
        ctx.out(
          ctx.flags.json
            ? JSON.stringify(runJson(run))
            : `${run.host}: run ${run.id} ${run.state === "cancelled" ? "cancelled" : "is being cancelled"}`,
        );
        return EXIT.ok;
      });
    },
  }),
};
