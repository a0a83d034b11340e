/**
 * Flood-safe pacing: a token bucket. A burst of lines goes out at once, then one line per
 * interval, so a multi-line reply never gets the bot kicked for flooding (IRC servers count lines,
 * not messages), and a per-identity command limit that keeps one user from starving the others.
 */

/** A token bucket; `take()` resolves when a token is available. */
export class TokenBucket {
  private tokens: number;
  private last = Date.now();

  /** `burst` tokens at most; one more every `intervalMs` (0 disables the limit). */
  constructor(
    private readonly burst: number,
    private readonly intervalMs: number,
  ) {
    this.tokens = burst;
  }

  /** Milliseconds until a token is free (0 when one is free now). */
  private refill(): number {
    if (this.intervalMs <= 0) return 0;
    const now = Date.now();
    const gained = Math.floor((now - this.last) / this.intervalMs);
    if (gained > 0) {
      this.tokens = Math.min(this.burst, this.tokens + gained);
      this.last = this.tokens === this.burst ? now : this.last + gained * this.intervalMs;
    }
    return this.tokens > 0 ? 0 : this.intervalMs - (now - this.last);
  }

  /** Take a token without waiting; false when none is free. */
  tryTake(): boolean {
    if (this.intervalMs <= 0) return true;
    this.refill();
    if (this.tokens <= 0) return false;
    this.tokens--;
    return true;
  }

  /** Wait for a token and take it. */
  async take(): Promise<void> {
    for (let i = 0; i < 10_000; i++) {
      const wait = this.refill();
      if (wait <= 0) {
        if (this.intervalMs > 0) this.tokens--;
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}

/** Per-identity command limit: `burst` commands, then one per `intervalMs`; exempt identities skip it. */
export class CommandLimiter {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly burst: number,
    private readonly intervalMs: number,
    private readonly exempt: ReadonlySet<string>,
  ) {}

  /** True when `identity` may run a command now. */
  allow(identity: string): boolean {
    if (this.exempt.has(identity) || this.intervalMs <= 0) return true;
    let bucket = this.buckets.get(identity);
    if (!bucket) {
      // Bounded: forget everyone when the map grows large (a flood of fresh masks).
      if (this.buckets.size > 10_000) this.buckets.clear();
      bucket = new TokenBucket(this.burst, this.intervalMs);
      this.buckets.set(identity, bucket);
    }
    return bucket.tryTake();
  }
}
