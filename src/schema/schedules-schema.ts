/**
 * jarvis.yml's `schedules:` section: how late an occurrence may be handled and still count as on
 * time (older ones were missed while jarvis was down, and `misfire` decides), and how often each
 * `jarvis start` looks for due schedules. Tests shorten both; production keeps the defaults.
 */
import { z } from "zod";
import { DEFAULT_GRACE_MS } from "../schedule/plan.js";

/** How often a service looks for due schedules unless `schedules.poll_seconds` says otherwise. */
export const DEFAULT_SCHEDULE_POLL_MS = 1000;

/** The schedule settings as jarvis uses them. */
export interface ScheduleSettings {
  graceMs: number;
  pollMs: number;
}

const seconds = (what: string) =>
  z
    .number({ error: `must be a number of seconds (${what})` })
    .positive({ error: `must be more than 0 seconds (${what})` });

/** `schedules:` as written; unknown keys are refused. */
export const schedulesSchema = z
  .strictObject({
    misfire_grace_seconds: seconds("how late an occurrence still runs on time"),
    poll_seconds: seconds("how often due schedules are looked for"),
  })
  .partial()
  .nullish();

/** The settings from the checked section (absent: the defaults). */
export function scheduleSettings(section: z.output<typeof schedulesSchema>): ScheduleSettings {
  return {
    graceMs:
      section?.misfire_grace_seconds === undefined ? DEFAULT_GRACE_MS : section.misfire_grace_seconds * 1000,
    pollMs: section?.poll_seconds === undefined ? DEFAULT_SCHEDULE_POLL_MS : section.poll_seconds * 1000,
  };
}
