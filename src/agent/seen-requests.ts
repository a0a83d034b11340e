/**
 * The request ids this node has taken, kept until their TTL has passed (after that the request
 * is refused as expired anyway), on disk so a restarted agent still knows them. Each id keeps the
 * JetStream sequence it arrived with: the same sequence again is the bus redelivering (an ACK that
 * was lost), a new sequence with a known id is a replay.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface SeenRequest {
  expiresAt: number;
  streamSeq: number;
  /** False while it runs: a restart finds it unfinished and reports it as interrupted. */
  finished: boolean;
}

export class SeenRequests {
  private readonly seen = new Map<string, SeenRequest>();
  private readonly file: string;

  constructor(stateDir: string) {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    this.file = join(stateDir, "seen-requests.json");
    let text = "{}";
    try {
      text = readFileSync(this.file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    for (const [id, entry] of Object.entries(JSON.parse(text) as Record<string, SeenRequest>)) {
      this.seen.set(id, entry);
    }
  }

  get(id: string): SeenRequest | undefined {
    return this.seen.get(id);
  }

  /** Requests that were running when the agent last stopped. */
  unfinished(): string[] {
    return [...this.seen].filter(([, e]) => !e.finished).map(([id]) => id);
  }

  /** Record before acting, and write through: a crash after this point never runs it again. */
  add(id: string, entry: SeenRequest, now: number): void {
    for (const [known, e] of this.seen) if (e.expiresAt < now) this.seen.delete(known);
    this.seen.set(id, entry);
    this.save();
  }

  finish(id: string): void {
    const entry = this.seen.get(id);
    if (!entry) return;
    entry.finished = true;
    this.save();
  }

  private save(): void {
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(Object.fromEntries(this.seen)), { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}
