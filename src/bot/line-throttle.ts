/**
 * How many followed step-output lines a room gets: at most `limit` per `intervalMs`; the lines
 * past that are counted, not queued, and said as one "... 37 lines" when the window closes. A
 * step printing 10,000 lines costs a room a few lines a window, never a backlog that outlives the
 * run; the whole output stays in the run's log. Pure: the caller passes the time.
 */

/** Lines to send now, in order. */
export type ThrottledLines = string[];

/** One room's throttle. */
export class LineThrottle {
  private windowStart = Number.NEGATIVE_INFINITY;
  private sent = 0;
  private held = 0;

  constructor(
    private readonly limit: number,
    private readonly intervalMs: number,
  ) {}

  /** Offer one line at time `now`: the lines to send (a summary of the last window first, if due). */
  offer(line: string, now: number): ThrottledLines {
    const out = this.flush(now);
    if (now - this.windowStart >= this.intervalMs) {
      this.windowStart = now;
      this.sent = 0;
    }
    if (this.sent < this.limit) {
      this.sent++;
      out.push(line);
    } else {
      this.held++;
    }
    return out;
  }

  /**
   * The summary of the lines held back, once their window has closed (or at once with
   * `force`, at the end of a run); nothing when none were.
   */
  flush(now: number, force = false): ThrottledLines {
    if (this.held === 0 || (!force && now - this.windowStart < this.intervalMs)) return [];
    const summary = `... ${this.held} line${this.held === 1 ? "" : "s"}`;
    this.held = 0;
    return [summary];
  }

  /** Lines held back and not yet summarised. */
  get pending(): number {
    return this.held;
  }
}
