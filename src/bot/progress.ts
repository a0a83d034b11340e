/**
 * Run progress in chat: the room that started a run gets one line per stage ("loki: 5/19
 * dns:update_host"), the final result, and on failure the stage, the error's last line and the
 * commands to inspect it. Formatting is pure (formatRunEvent); ProgressRelay follows the store's
 * run feed and routes lines to the adapter and place named by the run's origin.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { errorMessage } from "../errors.js";
import { positionText } from "../pipeline/run-events.js";
import type { RunEvent } from "../pipeline/run-events.js";
import type { RunControl } from "../pipeline/run-control.js";
import type { ChatPlace } from "./chat-adapter.js";
import { planSummaryLine, planView } from "../pipeline/plan-view.js";

/** The last line of an error message: the line a failed step's stderr ended with. */
export function lastLine(message: string): string {
  const lines = message
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "");
  return lines[lines.length - 1] ?? message.trim();
}

/** The chat line for a run event, or undefined for events chat does not show (log lines). */
export function formatRunEvent(event: RunEvent, botName = "jarvis"): string | undefined {
  const { host } = event;
  switch (event.type) {
    case "run-started": {
      const { run } = event;
      return `${host}: ${run.pipeline} started (run ${run.id}, ${run.totalSteps} steps, by ${run.requestedBy})`;
    }
    case "step-started":
      return `${host}: ${positionText(event.step)}${event.attempt > 1 ? ` (attempt ${event.attempt})` : ""}`;
    case "step-retry":
      return `${host}: ${positionText(event.step)} failed (attempt ${event.attempt}), retrying in ${Math.round(event.waitMs / 1000)}s: ${lastLine(event.error)}`;
    case "run-finished": {
      const { run } = event;
      const elapsed =
        run.startedAt && run.finishedAt ? ` in ${formatDuration(run.finishedAt - run.startedAt)}` : "";
      // The run's own position: on_failure steps never move it, so it names the step that failed.
      const where = run.step ? positionText(run.step) : "the start";
      if (run.state === "succeeded" && run.plan)
        return `${host}: plan of ${run.pipeline} ready${elapsed} (run ${run.id})`;
      if (run.state === "succeeded") return `${host}: ${run.pipeline} succeeded${elapsed} (run ${run.id})`;
      if (run.state === "cancelled") return `${host}: ${run.pipeline} cancelled at ${where} (run ${run.id})`;
      // The step's own code (E_SSH_AUTH, E_PROVIDER_QUOTA ...) tells what kind of failure it was.
      const error = run.error ? `${lastLine(run.error.message)} [${run.error.code}]` : "no error message";
      return `${host}: ${run.pipeline} FAILED at ${where}: ${error} — inspect: ${botName}: clipboard ${host} | ${botName}: log ${host} | ${botName}: retry ${host}`;
    }
    default:
      return undefined;
  }
}

/** "4s", "2m05s", "1h02m". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/** Parse a run origin ("irc:#ops", "irc:dm:alice") into its network and place. */
export function placeOfOrigin(origin: string): { network: string; place: ChatPlace } | undefined {
  const at = origin.indexOf(":");
  if (at <= 0) return undefined;
  const network = origin.slice(0, at);
  const rest = origin.slice(at + 1);
  if (rest.startsWith("dm:")) return { network, place: { room: rest.slice(3), direct: true } };
  return rest ? { network, place: { room: rest, direct: false } } : undefined;
}

/** The origin recorded for a place: "irc:#ops" for a room, "irc:dm:alice" for a direct chat. */
export function originOfPlace(network: string, place: ChatPlace): string {
  return place.direct ? `${network}:dm:${place.room}` : `${network}:${place.room}`;
}

/** Pause before following again after the store failed. */
const RETRY_MS = 2000;

/** Options for ProgressRelay. */
export interface ProgressRelayOptions {
  /** Where trouble reading the feed is reported; stderr by default. */
  log?: (line: string) => void;
  /** Follow from after this sequence (default: whatever happens from now on). */
  afterSeq?: number;
}

/**
 * Follows the store's run feed and sends each run's progress to the place that started it,
 * whichever process executes the run.
 */
export class ProgressRelay {
  private readonly stop = new AbortController();
  /** Settles once the relay has stopped following. */
  readonly done: Promise<void>;

  constructor(
    private readonly control: RunControl,
    private readonly deliver: (network: string, place: ChatPlace, line: string) => void,
    private readonly botName: string,
    private readonly options: ProgressRelayOptions = {},
  ) {
    this.done = this.relay();
  }

  /** Stop following runs. */
  close(): void {
    this.stop.abort();
  }

  private async relay(): Promise<void> {
    const { signal } = this.stop;
    const log = this.options.log ?? ((line: string) => console.error(`jarvis: ${line}`));
    let seq = this.options.afterSeq;
    while (!signal.aborted) {
      try {
        seq ??= await this.control.latestSeq();
        for await (const event of this.control.follow(seq, { signal })) {
          seq = event.seq;
          this.onEvent(event);
        }
      } catch (err) {
        log(`following run progress failed (${errorMessage(err)}); trying again in ${RETRY_MS} ms`);
        try {
          await sleep(RETRY_MS, undefined, { signal });
        } catch {
          return; // closed while waiting
        }
      }
    }
  }

  private onEvent(event: RunEvent): void {
    const target = placeOfOrigin(event.origin);
    if (!target) return;
    const line = formatRunEvent(event, this.botName);
    if (line !== undefined) this.deliver(target.network, target.place, line);
    if (event.type === "run-finished" && event.run.plan && event.run.state === "succeeded") {
      // The counts live on the run's last clipboard, read once the run has ended.
      const { id } = event.run;
      this.control.clipboardValue(id).then(
        (clipboard) =>
          this.deliver(
            target.network,
            target.place,
            planSummaryLine(event.host, id, planView(clipboard), this.botName),
          ),
        (err: unknown) =>
          (this.options.log ?? ((l: string) => console.error(`jarvis: ${l}`)))(
            `the plan of run ${id} could not be read for its summary: ${errorMessage(err)}`,
          ),
      );
    }
  }
}
