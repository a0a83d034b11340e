/**
 * The step duration histogram of /metrics, by step name: fed by the shared feed follower from
 * step-started and step-finished events (their store times), so it counts the steps this server
 * saw finish, wherever they ran, as Prometheus counters do from process start.
 */
import type { RunEvent } from "../protocol.js";

/** Bucket upper bounds, in seconds: a step takes from well under a second to many minutes. */
export const DURATION_BUCKETS = [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600];
/** Steps started but not yet finished that are remembered (a run that never ends must not leak). */
const MAX_OPEN = 10_000;

/** One step name's histogram. */
export interface Histogram {
  buckets: number[];
  count: number;
  sum: number;
}

/** Step durations, observed from the feed. */
export class StepDurations {
  private readonly open = new Map<string, number>();
  readonly byStep = new Map<string, Histogram>();

  observe(event: RunEvent): void {
    if (event.type !== "step-started" && event.type !== "step-finished") return;
    const key = `${event.runId}\u0000${event.step.phase}\u0000${event.step.index}`;
    if (event.type === "step-started") {
      if (this.open.size >= MAX_OPEN) this.open.delete(this.open.keys().next().value!);
      this.open.set(key, event.at);
      return;
    }
    const started = this.open.get(key);
    if (started === undefined || event.state === "skipped") return;
    this.open.delete(key);
    const seconds = Math.max(0, event.at - started) / 1000;
    let h = this.byStep.get(event.step.name);
    if (!h)
      this.byStep.set(event.step.name, (h = { buckets: DURATION_BUCKETS.map(() => 0), count: 0, sum: 0 }));
    DURATION_BUCKETS.forEach((bound, i) => {
      if (seconds <= bound) h.buckets[i]! += 1;
    });
    h.count += 1;
    h.sum += seconds;
  }
}
