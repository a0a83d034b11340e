/** schedule, schedules, unschedule: the same words as chat, here or through a jarvis server. */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { EXIT } from "./exit-codes.js";
import { defineCommand, usageError } from "./command.js";
import { withBackend } from "./with-backend.js";
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
    remote: true,
    run: (ctx) =>
      withBackend(ctx, async (backend) => {
        const command = scheduleCommand(ctx.args);
        if (command.verb !== "schedule") throw usageError("schedule takes a pipeline, a design and a time");
        // The local service that fires the schedule reads a design from its own directory, not
        // this shell's: a file named here is kept by its absolute path. A server reads its own.
        if (ctx.server === undefined && "source" in command && existsSync(command.source))
          command.source = resolve(command.source);
        const schedule = await backend.schedule(command);
        ctx.out(ctx.flags.json ? JSON.stringify(scheduleJson(schedule), null, 2) : scheduleLine(schedule));
        return EXIT.ok;
      }),
  }),
  schedules: defineCommand({
    usage: "schedules [--json]",
    summary: "the schedules, their next time and their recent occurrences (ran, with the run id, or skipped)",
    options: json,
    remote: true,
    run: (ctx) => {
      if (ctx.args.length > 0) throw usageError("schedules takes no arguments");
      return withBackend(ctx, async (backend) => {
        const schedules = await backend.schedules();
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
    remote: true,
    run: (ctx) => {
      const [id] = ctx.args;
      if (id === undefined || ctx.args.length > 1) throw usageError("unschedule takes one schedule id");
      return withBackend(ctx, async (backend) => {
        await backend.unschedule(id);
        ctx.out(`schedule ${id} deleted`);
        return EXIT.ok;
      });
    },
  }),
};
