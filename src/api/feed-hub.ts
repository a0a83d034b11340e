/**
 * One follower of the run event feed for the whole API server, shared by every connection that
 * follows a run: a thousand browsers on one run cost one store poller, and each event is redacted
 * and serialised once, whoever receives it. Listeners are kept per run; a listener must not block
 * (connections buffer or drop, see run-event-stream.ts).
 */
import { errorMessage } from "../errors.js";
import { redactEvent, wireEvent } from "./run-event-wire.js";
import type { WireEvent } from "./run-event-wire.js";
import type { Redactor } from "../clipboard/redact.js";
import type { RunControl } from "../pipeline/run-control.js";
import type { RunEvent } from "../protocol.js";

/** Receives every live event of one run, already redacted and serialised. */
export type FeedListener = (event: WireEvent) => void;

/** The shared follower. */
export class FeedHub {
  private readonly listeners = new Map<string, Set<FeedListener>>();
  private readonly stop = new AbortController();
  private started: Promise<void> | undefined;

  constructor(
    private readonly control: Pick<RunControl, "follow" | "latestSeq">,
    private readonly redactor: Redactor,
    private readonly log: (line: string) => void,
    /** Sees every event of every run (metrics), before the listeners of its run. */
    private readonly observe: (event: RunEvent) => void = () => undefined,
  ) {}

  /**
   * Hear every event of `runId` appended from now on. Resolves once the shared follower runs, so a
   * caller that reads the backlog afterwards misses nothing between the two (it may see an event
   * twice and drops it by its sequence).
   */
  async subscribe(runId: string, listener: FeedListener): Promise<() => void> {
    let set = this.listeners.get(runId);
    if (!set) this.listeners.set(runId, (set = new Set()));
    set.add(listener);
    await this.start();
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(runId) === set) this.listeners.delete(runId);
    };
  }

  /** How many connections follow runs now (for metrics). */
  get followers(): number {
    let n = 0;
    for (const set of this.listeners.values()) n += set.size;
    return n;
  }

  /** Serialise one event of a run for the wire, redacted (the backlog goes through here too). */
  wire(event: RunEvent): WireEvent {
    return wireEvent(redactEvent(event, this.redactor));
  }

  close(): void {
    this.stop.abort();
  }

  /** Start following (subscribe does it too); resolves once the follower's start is fixed. */
  start(): Promise<void> {
    this.started ??= this.control.latestSeq().then((from) => {
      void this.pump(from);
    });
    return this.started;
  }

  private async pump(from: number): Promise<void> {
    let seq = from;
    // A store hiccup must not end live following for everyone: log it and follow on from `seq`.
    while (!this.stop.signal.aborted) {
      try {
        for await (const event of this.control.follow(seq, { signal: this.stop.signal })) {
          seq = event.seq;
          this.observe(event);
          const set = this.listeners.get(event.runId);
          if (!set || set.size === 0) continue;
          const wire = this.wire(event);
          for (const listener of [...set]) listener(wire);
        }
      } catch (err) {
        if (this.stop.signal.aborted) return;
        this.log(`api: following the run feed failed after seq ${seq}: ${errorMessage(err)}; retrying`);
        await new Promise<void>((resolve) => setTimeout(resolve, 1000).unref());
      }
    }
  }
}
