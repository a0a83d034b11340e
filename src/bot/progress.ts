/**
 * Run progress in chat: the room that started a run gets one line per stage ("loki: 5/19
 * dns:update_host"), the final result, and on failure the stage, the error's last line and the
 * commands to inspect it. Formatting is pure (formatRunEvent); ProgressRelay routes lines to the
 * adapter and place named by the run's origin.
 */
import type { RunEvent, StepPosition } from "../pipeline/run-events.js";
import type { RunControl } from "../pipeline/run-control.js";
import type { ChatPlace } from "./chat-adapter.js";

/** The last line of an error message: the line a failed step's stderr ended with. */
export function lastLine(message: string): string {
  const lines = message
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "");
  return lines[lines.length - 1] ?? message.trim();
}

/** Remembers each run's current stage, so the final line can name where it failed. */
export class StageTracker {
  private readonly stages = new Map<string, StepPosition>();

  /** Note the stage of a step event; forget runs that finished. */
  observe(event: RunEvent): StepPosition | undefined {
    if (event.type === "step-started" || event.type === "step-finished" || event.type === "step-retry") {
      // on_failure steps (index past the main list) do not move where the run stopped.
      if (event.type === "step-started" && event.step.index < event.step.total)
        this.stages.set(event.run.id, event.step);
      return event.step;
    }
    const stage = this.stages.get(event.run.id);
    if (event.type === "run-finished") this.stages.delete(event.run.id);
    return stage;
  }
}

/** The chat line for a run event, or undefined for events chat does not show (log lines). */
export function formatRunEvent(
  event: RunEvent,
  stage: StepPosition | undefined,
  botName = "jarvis",
): string | undefined {
  const { run } = event;
  const host = run.host;
  switch (event.type) {
    case "run-started":
      return `${host}: ${run.pipeline} started (run ${run.id}, ${run.totalSteps} steps, by ${run.requestedBy})`;
    case "step-started":
      return `${host}: ${stageText(event.step)}${event.attempt > 1 ? ` (attempt ${event.attempt})` : ""}`;
    case "step-retry":
      return `${host}: ${stageText(event.step)} failed (attempt ${event.attempt}), retrying in ${Math.round(event.waitMs / 1000)}s: ${lastLine(event.error)}`;
    case "step-log":
    case "step-finished":
      return undefined;
    case "run-finished": {
      const elapsed =
        run.startedAt && run.finishedAt ? ` in ${formatDuration(run.finishedAt - run.startedAt)}` : "";
      const where = stage ? stageText(stage) : `step ${run.stepIndex + 1}/${run.totalSteps}`;
      if (run.state === "succeeded") return `${host}: ${run.pipeline} succeeded${elapsed} (run ${run.id})`;
      if (run.state === "cancelled") return `${host}: ${run.pipeline} cancelled at ${where} (run ${run.id})`;
      const error = run.error ? lastLine(run.error.message) : "no error message";
      return `${host}: ${run.pipeline} FAILED at ${where}: ${error} — inspect: ${botName}: clipboard ${host} | ${botName}: log ${host} | ${botName}: retry ${host}`;
    }
  }
}

/** "5/19 dns:update_host" (positions are 0-based); on_failure steps show their name only. */
export function stageText(step: StepPosition): string {
  return step.index < step.total ? `${step.index + 1}/${step.total} ${step.name}` : step.name;
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

/** Follows every run and sends its progress lines to the place that started it. */
export class ProgressRelay {
  private readonly tracker = new StageTracker();
  private readonly unsubscribe: () => void;

  constructor(
    control: RunControl,
    private readonly deliver: (network: string, place: ChatPlace, line: string) => void,
    private readonly botName: string,
  ) {
    this.unsubscribe = control.subscribe((event) => this.onEvent(event));
  }

  /** Stop following runs. */
  close(): void {
    this.unsubscribe();
  }

  private onEvent(event: RunEvent): void {
    const stage = this.tracker.observe(event);
    const target = placeOfOrigin(event.run.origin);
    if (!target) return;
    const line = formatRunEvent(event, stage, this.botName);
    if (line !== undefined) this.deliver(target.network, target.place, line);
  }
}
