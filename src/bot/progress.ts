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
import { approversName, decideCommands } from "../pipeline/approval-text.js";
import type { StepOutputFollower } from "./step-output-follower.js";
import { planSummaryLine, planView } from "../pipeline/plan-view.js";

/** The last line of an error message: the line a failed step's stderr ended with. */
export function lastLine(message: string): string {
  const lines = message
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "");
  return lines[lines.length - 1] ?? message.trim();
}

/** Lines of the failing step's output shown with a failure. */
export const FAILURE_TAIL_LINES = 3;

/**
 * The chat line for a run event, or undefined for events chat does not show (log lines).
 * `tail`: the failing step's last output lines, shown under a failure.
 */
export function formatRunEvent(event: RunEvent, botName = "jarvis", tail: string[] = []): string | undefined {
  const { host } = event;
  switch (event.type) {
    case "run-awaiting-approval": {
      const { run, approval } = event;
      const n = approval.count;
      const applying = run.planRun ? ` to apply plan ${run.planRun}` : "";
      return `${host}: ${run.pipeline} by ${run.requestedBy} needs ${n} approval${n === 1 ? "" : "s"} from ${approversName(approval.role)}${applying}: ${decideCommands(run.id, botName)}`;
    }
    case "run-approval":
      return event.verdict === "approve"
        ? `${host}: run ${event.runId} approved by ${event.by} (${event.approvals}/${event.needed})${event.approvals >= event.needed ? "; queued" : ""}`
        : `${host}: run ${event.runId} denied by ${event.by}${event.reason ? `: ${event.reason}` : ""}`;
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
      if (run.state === "cancelled")
        return `${host}: ${run.pipeline} cancelled at ${where}${run.error ? `: ${lastLine(run.error.message)}` : ""} (run ${run.id})`;
      // The step's own code (E_SSH_AUTH, E_PROVIDER_QUOTA ...) tells what kind of failure it was.
      const error = run.error ? `${lastLine(run.error.message)} [${run.error.code}]` : "no error message";
      const output = tail.map((line) => `\n${host}| ${line}`).join("");
      return `${host}: ${run.pipeline} FAILED at ${where}: ${error} — inspect: ${botName}: clipboard ${host} | ${botName}: log ${host} | ${botName}: retry ${host}${output}`;
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

function samePlace(
  a: { network: string; place: ChatPlace },
  b: { network: string; place: ChatPlace } | undefined,
): boolean {
  return (
    b !== undefined &&
    a.network === b.network &&
    a.place.room === b.place.room &&
    a.place.direct === b.place.direct
  );
}

/** Pause before following again after the store failed. */
const RETRY_MS = 2000;

/** Options for ProgressRelay. */
export interface ProgressRelayOptions {
  /** Where trouble reading the feed is reported; stderr by default. */
  log?: (line: string) => void;
  /** Follow from after this sequence (default: whatever happens from now on). */
  afterSeq?: number;
  /** Where step output goes for the rooms that follow it. */
  follower?: StepOutputFollower;
  /** Say only what goes to this network's rooms (the relay of one held chat network). */
  network?: string;
  /**
   * Told how far the feed has been said: `said` once an event's lines are on the wire (the relay
   * stops when it answers false: the network was taken over), `passed` for events of no room here.
   */
  cursor?: { passed(seq: number): void; said(seq: number): Promise<boolean> };
}

/** Sends one line; resolves once it is on the wire, rejects when it was not sent. */
export type DeliverLine = (network: string, place: ChatPlace, line: string) => Promise<void>;

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
    private readonly deliver: DeliverLine,
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
          // A line not sent (the network closed under it) is not passed: the next holder says it.
          const said = await this.onEvent(event);
          if (signal.aborted) return;
          seq = event.seq;
          if (!said) this.options.cursor?.passed(seq);
          else if (this.options.cursor && !(await this.options.cursor.said(seq))) return;
        }
      } catch (err) {
        if (signal.aborted) return; // closed mid-event: the line in flight was not sent
        log(`following run progress failed (${errorMessage(err)}); trying again in ${RETRY_MS} ms`);
        try {
          await sleep(RETRY_MS, undefined, { signal });
        } catch {
          return; // closed while waiting
        }
      }
    }
  }

  /** Say the event's lines; whether any line was for this relay's rooms. */
  private async onEvent(event: RunEvent): Promise<boolean> {
    this.options.follower?.onEvent(event, this.options.network);
    const network = this.options.network;
    const mine = (p: { network: string }): boolean => network === undefined || p.network === network;
    const origin = placeOfOrigin(event.origin);
    const target = origin && mine(origin) ? origin : undefined;
    // The rooms and people an approval rule names are told too, wherever the run was started.
    const places = [
      ...(target ? [target] : []),
      ...(event.type === "run-awaiting-approval"
        ? event.approval.notify
            .flatMap((o) => placeOfOrigin(o) ?? [])
            .filter((p) => mine(p) && !samePlace(p, origin))
        : []),
    ];
    if (places.length === 0) return false;
    const tail =
      event.type === "run-finished" && event.run.state === "failed" ? await this.failureTail(event) : [];
    const line = formatRunEvent(event, this.botName, tail);
    if (line === undefined) return false;
    await Promise.all(places.map((p) => this.deliver(p.network, p.place, line)));
    if (target && event.type === "run-finished" && event.run.plan && event.run.state === "succeeded") {
      // The counts live on the run's last clipboard, read once the run has ended; awaited, so the
      // summary comes before a plan-then-apply's approval request, which follows in the feed.
      const { id } = event.run;
      let summary: string | undefined;
      try {
        summary = planSummaryLine(
          event.host,
          id,
          planView(await this.control.clipboardValue(id)),
          this.botName,
        );
      } catch (err) {
        (this.options.log ?? ((l: string) => console.error(`jarvis: ${l}`)))(
          `the plan of run ${id} could not be read for its summary: ${errorMessage(err)}`,
        );
      }
      if (summary !== undefined) await this.deliver(target.network, target.place, summary);
    }
    return true;
  }

  /** The failing step's last output lines (redacted by RunControl.log), for the failure message. */
  private async failureTail(event: Extract<RunEvent, { type: "run-finished" }>): Promise<string[]> {
    const step = event.run.step;
    if (!step) return [];
    try {
      const lines = await this.control.log({ kind: "run", runId: event.runId, host: event.host });
      return lines
        .filter((l) => l.stream === "stderr" && l.step.phase === "main" && l.step.index === step.index)
        .slice(-FAILURE_TAIL_LINES)
        .map((l) => l.line);
    } catch (err) {
      (this.options.log ?? ((line: string) => console.error(`jarvis: ${line}`)))(
        `the output of run ${event.runId}'s failed step could not be read (${errorMessage(err)}); the failure is shown without it`,
      );
      return [];
    }
  }
}
