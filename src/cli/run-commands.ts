/** Commands that start or steer runs: run, retry, replay, resume, cancel. */
import { errorMessage } from "../errors.js";
import { readFileBounded } from "../io/bounded-read.js";
import { EXIT } from "./exit-codes.js";
import { groupLine, runJson, statusLine } from "./format.js";
import { cliRequester, defineCommand, dispatch, oneTarget, usageError, withJarvis } from "./command.js";
import type { CliCommand, CommandContext } from "./command.js";
import type { Jarvis } from "../service.js";
import { positionText } from "../pipeline/run-events.js";
import type { RunEvent } from "../pipeline/run-events.js";
import type { RunRecord } from "../store/run-store.js";
import { planLines, planView } from "../pipeline/plan-view.js";

/** How a followed event looks on the terminal, or undefined for events not shown. */
export function progressLine(event: RunEvent): string | undefined {
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
 * Execute runs in the foreground, printing their progress from the store's feed (the same feed
 * that shows a run executed by another process); resolves to the exit code. `fromSeq` is the
 * feed's sequence from before the runs were started or retried.
 */
async function follow(
  jarvis: Jarvis,
  ctx: CommandContext<{ json: boolean }>,
  fromSeq: number,
  runIds: string[],
  execute: () => Promise<RunRecord | RunRecord[]>,
  /** Print each run's plan (a plan run): whole, after its status line; under `plan` in JSON. */
  showPlan = false,
): Promise<number> {
  const ids = new Set(runIds);
  const query = runIds.length === 1 ? { runId: runIds[0]! } : {};
  let seq = fromSeq;
  const print = (event: RunEvent): void => {
    seq = event.seq;
    const line = ids.has(event.runId) ? progressLine(event) : undefined;
    if (line !== undefined) ctx.out(line);
  };
  const stop = new AbortController();
  const printing = ctx.flags.json
    ? Promise.resolve()
    : (async () => {
        for await (const event of jarvis.control.follow(seq, { ...query, signal: stop.signal })) print(event);
      })();
  // Ctrl-C cancels the run properly (its step's group is killed, on_failure steps run).
  const onSignal = (): void => {
    for (const id of ids)
      jarvis.control
        .cancel(id, cliRequester())
        .catch((err: unknown) => ctx.err(`run ${id} not cancelled: ${errorMessage(err)}`));
  };
  process.once("SIGINT", onSignal);
  try {
    const result = await execute();
    stop.abort();
    await printing;
    // What the follower had not polled yet when the runs ended.
    if (!ctx.flags.json) for (const event of await jarvis.control.readEvents(seq, query)) print(event);
    const finals = Array.isArray(result) ? result : [result];
    const details = (await Promise.all(finals.map((f) => jarvis.control.status(f.id)))).flat();
    const plans = new Map<string, ReturnType<typeof planView>>();
    if (showPlan)
      for (const d of details)
        if (d.run.state === "succeeded")
          plans.set(d.run.id, planView(await jarvis.control.clipboardValue(d.run.id)));
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
          for (const line of [`${d.run.host}: plan (nothing was changed):`, ...planLines(plan)])
            ctx.out(line);
      }
      if (details.length > 1) ctx.out(groupLine(details));
    }
    return finals.every((f) => f.state === "succeeded") ? EXIT.ok : EXIT.runFailed;
  } finally {
    stop.abort();
    process.off("SIGINT", onSignal);
  }
}

/** After a plan-then-apply's plan: the apply run that waits, and how to decide on it. */
async function sayAwaiting(
  jarvis: Jarvis,
  ctx: Pick<CommandContext<object>, "out">,
  plans: RunRecord[],
): Promise<void> {
  for (const plan of plans) {
    const [apply] = await jarvis.control.history(plan.host, 1);
    if (apply?.planRun !== plan.id) continue;
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
    run: (ctx) => {
      const [pipeline, source] = ctx.args;
      if (!pipeline || !source || ctx.args.length > 2) throw usageError("run takes a pipeline and a design");
      const planThenApply = ctx.flags["plan-then-apply"];
      if (planThenApply && ctx.flags.plan) throw usageError("give --plan or --plan-then-apply, not both");
      return withJarvis(ctx, async (jarvis) => {
        const fromSeq = await jarvis.control.latestSeq();
        const { runs } = await dispatch(
          jarvis,
          ctx,
          {
            verb: "run",
            pipeline,
            source,
            force: ctx.flags.force,
            foreground: !ctx.flags.detach,
            plan: ctx.flags.plan,
            ...(planThenApply ? { planThenApply } : {}),
          },
          "started",
        );
        if (ctx.flags.detach) {
          ctx.out(
            ctx.flags.json
              ? JSON.stringify(runs.length === 1 ? runJson(runs[0]!) : runs.map((r) => runJson(r)))
              : runs.map((r) => r.id).join("\n"),
          );
          return EXIT.ok;
        }
        if (!ctx.flags.json)
          for (const run of runs) ctx.out(`${run.host}: run ${run.id} of ${run.pipeline} started`);
        const code = await follow(
          jarvis,
          ctx,
          fromSeq,
          runs.map((r) => r.id),
          () => jarvis.control.executeAll(runs),
          ctx.flags.plan || planThenApply,
        );
        if (planThenApply && code === EXIT.ok && !ctx.flags.json) await sayAwaiting(jarvis, ctx, runs);
        return code;
      });
    },
  }),
  retry: defineCommand({
    usage: "retry <host|run> [--clipboard FILE] [--force] [--detach] [--json]",
    summary: "retry a failed or cancelled run from its failed step, optionally on an edited clipboard",
    options: { ...runOptions, clipboard: { type: "string" } },
    run: (ctx) => {
      const target = oneTarget(ctx, "retry");
      const file = ctx.flags.clipboard;
      return withJarvis(ctx, async (jarvis) => {
        const fromSeq = await jarvis.control.latestSeq();
        const edited =
          file === undefined
            ? undefined
            : (
                await readFileBounded(file, {
                  maxBytes: jarvis.config.designs.maxBytes,
                  what: "clipboard file",
                })
              ).toString("utf8");
        const { run } = await dispatch(
          jarvis,
          ctx,
          {
            verb: "retry",
            target,
            force: ctx.flags.force,
            foreground: !ctx.flags.detach,
            ...(edited === undefined ? {} : { clipboardYaml: edited }),
          },
          "retrying",
        );
        if (ctx.flags.detach) {
          ctx.out(ctx.flags.json ? JSON.stringify(runJson(run)) : run.id);
          return EXIT.ok;
        }
        return follow(jarvis, ctx, fromSeq, [run.id], () =>
          jarvis.control.executeAll([run]).then(([r]) => r!),
        );
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
      return withJarvis(ctx, async (jarvis) => {
        const fromSeq = await jarvis.control.latestSeq();
        const { runs } = await dispatch(
          jarvis,
          ctx,
          { verb: "replay", target, onto, foreground: !ctx.flags.detach },
          "started",
        );
        if (ctx.flags.detach) {
          ctx.out(
            ctx.flags.json ? JSON.stringify(runs.map((r) => runJson(r))) : runs.map((r) => r.id).join("\n"),
          );
          return EXIT.ok;
        }
        if (!ctx.flags.json)
          for (const run of runs) ctx.out(`${run.host}: run ${run.id} of ${run.pipeline} started (replay)`);
        return follow(
          jarvis,
          ctx,
          fromSeq,
          runs.map((r) => r.id),
          () => jarvis.control.executeAll(runs),
        );
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
        return follow(jarvis, ctx, fromSeq, [run.id], async () => {
          const { run: done } = await dispatch(jarvis, ctx, { verb: "resume", target: run.id }, "resumed");
          return done;
        });
      });
    },
  }),
  cancel: defineCommand({
    usage: "cancel <host|run> [--json]",
    summary: "cancel a queued or running run (its step is killed, on_failure steps run)",
    options: { json: runOptions.json },
    run: (ctx) => {
      const target = oneTarget(ctx, "cancel");
      return withJarvis(ctx, async (jarvis) => {
        const { run } = await dispatch(jarvis, ctx, { verb: "cancel", target }, "cancelling");
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
