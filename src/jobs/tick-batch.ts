/**
 * Items that arrive one at a time (agent replies, heartbeats) handled together once per turn of
 * the event loop: one store transaction and one socket write for everything that came in
 * meanwhile, instead of one of each per item. A flush never overlaps the one before it; what
 * arrives during a flush goes into the next.
 */
import { setImmediate as nextTurn } from "node:timers/promises";

export class TickBatch<T> {
  private items: T[] = [];
  private scheduled = false;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly handle: (items: T[]) => Promise<void>,
    private readonly onError: (err: unknown) => void,
  ) {}

  push(item: T): void {
    this.items.push(item);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.flushing = this.flushing.then(() => this.flush());
    });
  }

  /** Resolves once everything pushed so far has been handled. */
  async drained(): Promise<void> {
    // A flush scheduled before this call has joined the chain once this turn has passed.
    await nextTurn();
    await this.flushing;
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const items = this.items;
    this.items = [];
    try {
      await this.handle(items);
    } catch (err) {
      this.onError(err);
    }
  }
}
