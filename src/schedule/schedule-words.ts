/**
 * Chat's `schedule` words typed: `schedule <pipeline> <source|host> at <time> | cron "<pattern>"
 * [in <timezone>] [misfire skip|once] [force]`. Redeploy and destroy act on a host (as their chat
 * commands do); every other pipeline takes a design source.
 */
import { CommandError } from "../errors.js";
import type { Misfire } from "../store/schedule-store.js";
import type { ScheduleWhen } from "./schedule-book.js";

/** The schedule words, typed; `word` is the host (redeploy, destroy) or the design source. */
export interface ScheduleWords {
  pipeline: string;
  word: string;
  when: ScheduleWhen;
  misfire: Misfire;
  force: boolean;
}

const USAGE =
  'schedule <pipeline> <source|host> at <time> | cron "<pattern>" [in <timezone>] [misfire skip|once] [force]; e.g. schedule deploy cn=loki at 2026-12-24T02:00Z';

/** Type the words after `schedule`. */
export function scheduleWords(args: readonly string[]): ScheduleWords {
  const [pipeline, word, kind, value, ...rest] = args;
  if (!pipeline || !word || !value || (kind?.toLowerCase() !== "at" && kind?.toLowerCase() !== "cron")) {
    throw new CommandError("E_USAGE", `usage: ${USAGE}`);
  }
  let timezone: string | null = null;
  let misfire: Misfire = "skip";
  let force = false;
  for (let i = 0; i < rest.length; i++) {
    const option = rest[i]!.toLowerCase();
    const next = rest[i + 1];
    if (option === "in" && next !== undefined) {
      timezone = next;
      i++;
    } else if (option === "misfire" && (next === "skip" || next === "once")) {
      misfire = next;
      i++;
    } else if (option === "force") force = true;
    else
      throw new CommandError("E_USAGE", `'${rest[i]!.slice(0, 30)}' is not understood here; usage: ${USAGE}`);
  }
  const when: ScheduleWhen =
    kind.toLowerCase() === "at" ? { at: value, timezone } : { cron: value, timezone };
  return { pipeline, word, when, misfire, force };
}
