/**
 * A tiny typed event stream: listeners for code that reacts at once, and async iteration (with a
 * bounded buffer) for code that reads events in order, such as tests waiting for a state.
 */

/** A stream of values of type T that can be listened to or iterated. */
export class EventStream<T> implements AsyncIterable<T> {
  private readonly listeners = new Set<(value: T) => void>();
  private readonly enders = new Set<() => void>();
  private closed = false;

  /** Deliver a value to every listener and iterator; ignored after close(). */
  emit(value: T): void {
    if (this.closed) return;
    for (const listener of [...this.listeners]) listener(value);
  }

  /** Call `listener` for each value; returns the function that stops it. */
  on(listener: (value: T) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** End the stream: iterators finish, listeners are dropped. */
  close(): void {
    this.closed = true;
    this.listeners.clear();
    for (const end of [...this.enders]) end();
    this.enders.clear();
  }

  /** Iterate values emitted from now on; keeps at most `limit` unread values (oldest dropped). */
  [Symbol.asyncIterator](limit = 1000): AsyncIterator<T> {
    const buffer: T[] = [];
    let wake: (() => void) | undefined;
    let done = this.closed;
    const listener = (value: T): void => {
      buffer.push(value);
      if (buffer.length > limit) buffer.shift();
      wake?.();
    };
    const end = (): void => {
      done = true;
      wake?.();
    };
    this.listeners.add(listener);
    this.enders.add(end);
    const off = (): void => {
      this.listeners.delete(listener);
      this.enders.delete(end);
    };
    return {
      next: async (): Promise<IteratorResult<T>> => {
        for (;;) {
          const value = buffer.shift();
          if (value !== undefined) return { value, done: false };
          if (done) {
            off();
            return { value: undefined, done: true };
          }
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
        }
      },
      return: async (): Promise<IteratorResult<T>> => {
        off();
        return { value: undefined, done: true };
      },
    };
  }
}
