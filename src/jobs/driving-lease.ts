/**
 * This process's hold on the right to drive the jobs (see job-control.ts). It asks for the lease at
 * start and then every LOOK_MS: a holder extends it, the others take it once it has expired on the
 * store's clock, so a holder killed with -9 is replaced within one lease and a look.
 *
 * The holder counts its lease from the moment it *sent* its last successful request (before the
 * store could have dated it) and stops a margin before it ends, so a holder that cannot reach the
 * store, or was paused, stops driving before another replica may start, as long as the two clocks
 * run at the same rate. Gains and losses are handed to the controller one after the other.
 */
import { performance } from "node:perf_hooks";
import { setInterval as every } from "node:timers/promises";
import { errorMessage } from "../errors.js";
import type { JobControl } from "./job-control.js";

export interface DrivingLeaseOptions {
  control: JobControl;
  owner: string;
  leaseMs: number;
  log: (line: string) => void;
  /** Start driving: the lease is held. A failure gives the lease back, to be asked for again. */
  onGained(): Promise<void>;
  /** Stop driving at once: the lease is gone, or is being handed back. */
  onLost(): Promise<void>;
}

/** How often the lease is asked for (held: extended; not held: looked at). */
const LOOK_MS = 1_000;
/** The holder stops driving this long before the store would let another replica take over. */
const STOP_MARGIN_FRACTION = 0.2;
/** How often the holder checks that its lease has not run out while a request to the store hangs. */
const WATCHDOG_MS = 250;

export class DrivingLease {
  private holding = false;
  private validUntil = -Infinity;
  private readonly stopping = new AbortController();
  private loop: Promise<void> = Promise.resolve();
  private watchdog: NodeJS.Timeout | undefined;
  private transitions: Promise<void> = Promise.resolve();
  /** Said once per outage of the store, not every look. */
  private failing = false;

  constructor(private readonly o: DrivingLeaseOptions) {}

  /** Whether this process may drive now. */
  get valid(): boolean {
    return this.holding && (this.o.control.sole || performance.now() <= this.validUntil);
  }

  /** Ask once now (a lone replica drives from its start), then keep asking. */
  async start(): Promise<void> {
    if (this.o.control.sole) {
      this.holding = true;
      await this.o.onGained();
      return;
    }
    await this.ask();
    await this.transitions;
    this.watchdog = setInterval(() => {
      if (this.holding && performance.now() > this.validUntil) this.lose("not renewed in time");
    }, WATCHDOG_MS);
    const signal = this.stopping.signal;
    this.loop = (async () => {
      try {
        for await (const _ of every(Math.min(LOOK_MS, this.o.leaseMs / 3), undefined, { signal }))
          await this.ask();
      } catch (err) {
        if (!signal.aborted) throw err;
      }
    })();
  }

  /** Stop driving and hand the lease back, for another replica to take at once. */
  async stop(): Promise<void> {
    this.stopping.abort();
    clearInterval(this.watchdog);
    await this.loop;
    this.lose("jarvis is stopping");
    await this.transitions;
    if (this.o.control.sole) return;
    // Also when not driving: a last look may have been granted as the stop began.
    try {
      await this.o.control.release(this.o.owner);
    } catch (err) {
      this.o.log(
        `job-driving lease not handed back (${errorMessage(err)}); another replica takes it once it expires`,
      );
    }
  }

  /** Waits for what a gain or loss started (the controller's start and stop of driving). */
  settled(): Promise<void> {
    return this.transitions;
  }

  private async ask(): Promise<void> {
    const sent = performance.now();
    let held: boolean;
    try {
      held = await this.o.control.hold(this.o.owner, this.o.leaseMs);
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.o.log(`job-driving lease not readable (${errorMessage(err)}); trying again`);
      this.failing = true;
      return;
    }
    if (this.stopping.signal.aborted) return;
    if (!held) {
      if (this.holding) this.lose("another replica took the lease over");
      return;
    }
    this.validUntil = sent + this.o.leaseMs * (1 - STOP_MARGIN_FRACTION);
    if (!this.holding) this.gain();
  }

  private gain(): void {
    this.holding = true;
    this.o.log(`this replica (${this.o.owner}) drives the jobs now`);
    this.transitions = this.transitions.then(async () => {
      try {
        await this.o.onGained();
      } catch (err) {
        this.o.log(`cannot take the jobs up (${errorMessage(err)}); giving the lease back to ask again`);
        this.lose("the jobs could not be taken up");
        await this.o.control.release(this.o.owner).catch((releaseErr: unknown) => {
          this.o.log(`job-driving lease not handed back (${errorMessage(releaseErr)}); it expires by itself`);
        });
      }
    });
  }

  private lose(why: string): void {
    if (!this.holding) return;
    this.holding = false;
    this.validUntil = -Infinity;
    this.o.log(`this replica stopped driving the jobs: ${why}`);
    this.transitions = this.transitions.then(() =>
      this.o.onLost().catch((err: unknown) => this.o.log(`stopping the jobs' driver: ${errorMessage(err)}`)),
    );
  }
}
