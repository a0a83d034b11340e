/** schedule, schedules, unschedule: the same words as chat, through the dispatcher. */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { EXIT } from "./exit-codes.js";
import { defineCommand, dispatch, usageError, withJarvis } from "./command.js";
import type { CliCommand } from "./command.js";
import { scheduleCommand } from "../commands/typed-command.js";
import { scheduleJson } from "../schedule/schedule-json.js";
import { scheduleLine } from "../schedule/schedule-text.js";

const json = { json: { type: "boolean", default: false } } as const;

/** The schedule commands. */
export const scheduleCommands: Record<string, CliCommand> = {
  schedule: defineCommand({
    usage:
      'schedule <pipeline> <design|host> at <time> | cron "<pattern>" [in <timezone>] [misfire skip|once] [force] [--json]',
    summary:
      "run a pipeline later or on a cron pattern; `jarvis start` fires it (redeploy and destroy name a host)",
    options: json,
    run: (ctx) =>
      withJarvis(ctx, async (jarvis) => {
        const command = scheduleCommand(ctx.args);
        // The service that fires the schedule reads a local design from its own directory, not
        // this shell's: a file named here is kept by its absolute path.
        if ("source" in command && existsSync(command.source)) command.source = resolve(command.source);
        const { schedule } = await dispatch(jarvis, ctx, command, "scheduled");
        ctx.out(ctx.flags.json ? JSON.stringify(scheduleJson(schedule), null, 2) : scheduleLine(schedule));
        return EXIT.ok;
      }),
  }),
  schedules: defineCommand({
    usage: "schedules [--json]",
    summary: "the schedules, their next time and their recent occurrences (ran, with the run id, or skipped)",
    options: json,
    run: (ctx) => {
      if (ctx.args.length > 0) throw usageError("schedules takes no arguments");
      return withJarvis(ctx, async (jarvis) => {
        const { schedules } = await dispatch(jarvis, ctx, { verb: "schedules" }, "schedules");
        if (ctx.flags.json) ctx.out(JSON.stringify(schedules.map(scheduleJson), null, 2));
        else if (schedules.length === 0) ctx.out("no schedules");
        else for (const schedule of schedules) ctx.out(scheduleLine(schedule));
        return EXIT.ok;
      });
    },
  }),
  unschedule: defineCommand({
    usage: "unschedule <id>",
    summary: "delete a schedule",
    options: {},
    run: (ctx) => {
      const [id] = ctx.args;
      if (id === undefined || ctx.args.length > 1) throw usageError("unschedule takes one schedule id");
      return withJarvis(ctx, async (jarvis) => {
        await dispatch(jarvis, ctx, { verb: "unschedule", id }, "unscheduled");
        ctx.out(`schedule ${id} deleted`);
        return EXIT.ok;
      });
    },
  }),
};
