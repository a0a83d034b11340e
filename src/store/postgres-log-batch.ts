/**
 * A run's log lines, written to PostgreSQL in batches: the lines a step hands over close together
 * (those asked for within one event-loop turn, or while the run's previous write is under way) go
 * in one statement, one round trip and one NOTIFY instead of one each (up to LOG_BATCH_LINES lines
 * or LOG_BATCH_BYTES a statement). Each line's promise still says whether it was kept (false: the
 * lease was lost), and only once it is. A run's writes go one after another, and every other write
 * of its lease holder is queued among its lines (inOrder), so the feed keeps the order in which
 * they were asked for.
 */
import type { Lease } from "./run-store.js";

/** Lines in one statement at most (a step pouring out output fills several). */
const LOG_BATCH_LINES = 500;
/** Bytes of line bodies in one statement at most. */
const LOG_BATCH_BYTES = 512 * 1024;

/** Writes one batch of bodies for a lease, fenced by it: how many were appended (0: lease lost). */
export type BatchWriter = (lease: Lease, bodies: string[]) => Promise<number>;

interface PendingLine {
  body: string;
  kept: (held: boolean) => void;
  failed: (err: unknown) => void;
}

/** Lines of one lease holder still taking more: written once the writes before it are done. */
interface OpenBatch {
  owner: string;
  lines: PendingLine[];
  bytes: number;
}

interface RunQueue {
  /** The batch new lines join, until it starts being written; undefined: the next line opens one. */
  open: OpenBatch | undefined;
  /** The run's writes so far, one after another; it never rejects (each write's caller hears). */
  tail: Promise<void>;
}

/** Resolves at the end of this event-loop turn: lines handed over in the same turn share a batch. */
const endOfTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class LogBatcher {
  private readonly queues = new Map<string, RunQueue>();

  constructor(private readonly write: BatchWriter) {}

  /** Append a line's body for the lease holder; true once kept, false if the lease was lost. */
  append(lease: Lease, body: string): Promise<boolean> {
    const queue = this.queue(lease.runId);
    let batch = queue.open;
    if (!batch || batch.owner !== lease.owner) {
      batch = { owner: lease.owner, lines: [], bytes: 0 };
      queue.open = batch;
      const opened = batch;
      this.chain(lease.runId, queue, async () => {
        await endOfTurn();
        if (queue.open === opened) queue.open = undefined;
        await this.writeBatch(lease.runId, opened);
      });
    }
    const kept = new Promise<boolean>((resolve, reject) =>
      batch.lines.push({ body, kept: resolve, failed: reject }),
    );
    batch.bytes += body.length;
    if (batch.lines.length >= LOG_BATCH_LINES || batch.bytes >= LOG_BATCH_BYTES) queue.open = undefined;
    return kept;
  }

  /**
   * Run another write of the run's lease holder after every line asked for before it, and before
   * every line asked for after it.
   */
  inOrder<T>(runId: string, write: () => Promise<T>): Promise<T> {
    const queue = this.queue(runId);
    queue.open = undefined;
    let result!: Promise<T>;
    this.chain(runId, queue, () => {
      result = write();
      return result.then(
        () => undefined,
        // The caller hears of the failure through `result`; the queue only keeps the order.
        () => undefined,
      );
    });
    return queue.tail.then(() => result);
  }

  /** Resolves once every line asked for so far, of every run, is written (closing the store). */
  async settleAll(): Promise<void> {
    await Promise.all([...this.queues.values()].map((queue) => queue.tail));
  }

  private queue(runId: string): RunQueue {
    let queue = this.queues.get(runId);
    if (!queue) {
      queue = { open: undefined, tail: Promise.resolve() };
      this.queues.set(runId, queue);
    }
    return queue;
  }

  /** Queue `step` behind the run's writes; the queue goes once nothing more waits in it. */
  private chain(runId: string, queue: RunQueue, step: () => Promise<void>): void {
    const tail = queue.tail.then(step);
    queue.tail = tail;
    void tail.then(() => {
      if (queue.tail === tail && queue.open === undefined && this.queues.get(runId) === queue)
        this.queues.delete(runId);
    });
  }

  /** One statement for the batch; settles every line's promise, never rejects. */
  private async writeBatch(runId: string, batch: OpenBatch): Promise<void> {
    try {
      const held =
        (await this.write(
          { runId, owner: batch.owner },
          batch.lines.map((l) => l.body),
        )) > 0;
      for (const line of batch.lines) line.kept(held);
    } catch (err) {
      for (const line of batch.lines) line.failed(err);
    }
  }
}
