/**
 * `follow <host|run>`: the rooms that asked get the running step's output lines (the feed's
 * `step-log` events) as they come, through one LineThrottle per room, until the run ends. A host
 * is followed through its current run, or its next one when it has none. What a network's rooms
 * follow is handed to `changed`, so the network's lease carries it to a replica that takes the
 * network over; after a restart of a lone jarvis a room says `follow` again (the run log keeps
 * everything).
 */
import { LineThrottle } from "./line-throttle.js";
import type { ChatPlace } from "./chat-adapter.js";
import type { RunEvent } from "../pipeline/run-events.js";
import type { RunTarget } from "../pipeline/run-target.js";
import type { NetworkFollow } from "../cluster/cluster-buckets.js";

/** How much followed output a network's rooms get. */
export interface FollowPace {
  /** Lines per interval, the rest summarised. */
  lines: number;
  intervalMs: number;
}

/** What a room follows: a run, or a host (through its current or next run). */
export type FollowTarget = Exclude<RunTarget, { kind: "group" }>;

interface Subscription {
  network: string;
  place: ChatPlace;
  target: FollowTarget;
  /** The run whose output it shows: the target run, or the host's run once one shows output. */
  runId: string | undefined;
  throttle: LineThrottle;
}

/** Follows step output for rooms and hands each line to deliver, throttled per room. */
export class StepOutputFollower {
  private readonly subscriptions = new Map<string, Subscription>();

  constructor(
    private readonly paceOf: (network: string) => FollowPace,
    private readonly deliver: (network: string, place: ChatPlace, line: string) => void,
    /** Told whenever what `network`'s rooms follow changed. */
    private readonly changed: (network: string) => void = () => undefined,
    private readonly clock: () => number = Date.now,
  ) {}

  /** What `network`'s rooms follow now. */
  followsOf(network: string): NetworkFollow[] {
    return [...this.subscriptions.values()]
      .filter((sub) => sub.network === network)
      .map((sub) => ({
        place: { room: sub.place.room, direct: sub.place.direct },
        target: sub.target,
        ...(sub.runId === undefined ? {} : { runId: sub.runId }),
      }));
  }

  /** Start following `target` in a room; `runId` is the run it means now, when known. */
  follow(network: string, place: ChatPlace, target: FollowTarget, runId: string | undefined): void {
    const pace = this.paceOf(network);
    this.subscriptions.set(key(network, place, target), {
      network,
      place,
      target,
      runId: target.kind === "run" ? target.runId : runId,
      throttle: new LineThrottle(pace.lines, pace.intervalMs),
    });
    this.changed(network);
  }

  /** Drop a network's follows without a word: this replica no longer speaks there. */
  forget(network: string): void {
    for (const [k, sub] of this.subscriptions) if (sub.network === network) this.subscriptions.delete(k);
  }

  /** Stop following `target` (or everything) in a room; how many follows ended. */
  unfollow(network: string, place: ChatPlace, target?: FollowTarget): number {
    let ended = 0;
    const room = roomKey(network, place);
    for (const [k, sub] of this.subscriptions) {
      if (roomKey(sub.network, sub.place) !== room) continue;
      if (target && !sameTarget(sub.target, target)) continue;
      this.end(k, sub);
      ended++;
    }
    if (ended > 0) this.changed(network);
    return ended;
  }

  /**
   * Show a step-log line to the rooms following its run (only `network`'s rooms, when given: each
   * held network relays the feed on its own); end follows when their run ends.
   */
  onEvent(event: RunEvent, network?: string): void {
    if (event.type !== "step-log" && event.type !== "run-finished") return;
    for (const [k, sub] of this.subscriptions) {
      if (network !== undefined && sub.network !== network) continue;
      if (!this.matches(sub, event)) continue;
      if (event.type === "run-finished") {
        this.end(k, sub);
        this.changed(sub.network);
        this.deliver(
          sub.network,
          sub.place,
          `${event.host}: run ${event.runId} ended; no longer following it`,
        );
        continue;
      }
      if (sub.runId === undefined) {
        sub.runId = event.runId;
        this.changed(sub.network);
      }
      for (const line of sub.throttle.offer(`${event.host}| ${event.line}`, this.clock()))
        this.deliver(sub.network, sub.place, line);
    }
  }

  /** Say the summaries of windows that have closed (call it every so often). */
  tick(): void {
    const now = this.clock();
    for (const sub of this.subscriptions.values())
      for (const line of sub.throttle.flush(now)) this.deliver(sub.network, sub.place, line);
  }

  private matches(sub: Subscription, event: RunEvent): boolean {
    if (sub.runId !== undefined) return sub.runId === event.runId;
    return sub.target.host === event.host;
  }

  private end(k: string, sub: Subscription): void {
    this.subscriptions.delete(k);
    for (const line of sub.throttle.flush(this.clock(), true)) this.deliver(sub.network, sub.place, line);
  }
}

function roomKey(network: string, place: ChatPlace): string {
  return JSON.stringify([network, place.direct, place.room]);
}

function key(network: string, place: ChatPlace, target: FollowTarget): string {
  return JSON.stringify([
    roomKey(network, place),
    target.kind,
    target.kind === "run" ? target.runId : target.host,
  ]);
}

function sameTarget(a: FollowTarget, b: FollowTarget): boolean {
  if (a.kind === "run" && b.kind === "run") return a.runId === b.runId;
  if (a.kind === "host" && b.kind === "host") return a.host === b.host;
  return false;
}
