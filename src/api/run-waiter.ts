/**
 * `POST /runs?wait=30s`: wait until every run started has ended, or the time is up, hearing the
 * end from the shared feed follower rather than polling the store per request.
 */
import type { FeedHub } from "./feed-hub.js";
import type { RunControl } from "../pipeline/run-control.js";

const FINAL_STATES: ReadonlySet<string> = new Set(["succeeded", "failed", "cancelled"]);

/** True when all runs ended within `ms`. */
export async function waitForRuns(
  hub: FeedHub,
  control: Pick<RunControl, "find">,
  runIds: string[],
  ms: number,
): Promise<boolean> {
  const left = new Set(runIds);
  let allDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (allDone = resolve));
  const settle = (runId: string): void => {
    left.delete(runId);
    if (left.size === 0) allDone();
  };
  const unsubscribes = await Promise.all(
    runIds.map((runId) => hub.subscribe(runId, (event) => event.final && settle(runId))),
  );
  let timer: NodeJS.Timeout | undefined;
  try {
    // Subscribed first: a run that ends now is heard, one that ended already is read here.
    for (const runId of runIds) {
      const run = await control.find({ kind: "run", runId, host: "" });
      if (FINAL_STATES.has(run.state)) settle(runId);
    }
    if (left.size === 0) return true;
    const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
    return await Promise.race([done.then(() => true), timedOut]);
  } finally {
    clearTimeout(timer);
    for (const unsubscribe of unsubscribes) unsubscribe();
  }
}
