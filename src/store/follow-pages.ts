/**
 * Following a sequenced table as its rows are added, by any process: read a page after the last
 * sequence seen, and when the reader has caught up, wait for a wake-up. The wait is armed before
 * each read, so a row committed after the read still ends the wait: nothing is missed between
 * the two. Each store says what wakes it (an append in this process, a poll, a NOTIFY).
 */

/** A wait armed before a read: it ends once something may have been added after that read. */
export interface ArmedWait {
  wait(signal: AbortSignal): Promise<void>;
  cancel(): void;
}

export interface PagedFollow<E extends { seq: number }> {
  read(afterSeq: number, limit: number): Promise<E[]>;
  arm(): ArmedWait;
  signal: AbortSignal;
}

const PAGE = 500;

/** Every row after `afterSeq`, oldest first, until the signal aborts. */
export async function* followPages<E extends { seq: number }>(
  afterSeq: number,
  source: PagedFollow<E>,
): AsyncGenerator<E> {
  let seq = afterSeq;
  const { signal } = source;
  while (!signal.aborted) {
    const armed = source.arm();
    let page: E[];
    try {
      page = await source.read(seq, PAGE);
    } catch (err) {
      armed.cancel();
      throw err;
    }
    for (const row of page) {
      seq = row.seq;
      yield row;
      if (signal.aborted) break;
    }
    if (signal.aborted || page.length === PAGE) {
      armed.cancel();
      continue;
    }
    await armed.wait(signal);
  }
}
