/**
 * The request ids this node has taken, kept until their TTL has passed (after that the request
 * is refused as expired anyway), on disk so a restarted agent still knows them. Each id keeps the
 * JetStream sequence it arrived with: the same sequence again is the bus redelivering (an ACK that
 * was lost), a new sequence with a known id is a replay.
 *
 * On disk it is a journal, one JSON line per change, appended to a file kept open: one write per
 * change instead of rewriting and renaming the whole file, which was most of an agent's work per
 * request (and blocked every agent of an emulator process). The journal is rewritten with only
 * the live entries at start and when it has grown well past them.
 */
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";

export interface SeenRequest {
  expiresAt: number;
  streamSeq: number;
  /** False while it runs: a restart finds it unfinished and reports it as interrupted. */
  finished: boolean;
}

/** Journal lines written beyond the live entries before the journal is rewritten. */
const COMPACT_AFTER_LINES = 1000;

export class SeenRequests {
  private readonly seen = new Map<string, SeenRequest>();
  private readonly file: string;
  /** Closed once the agent stops: a run that ends after that is reported at the next start. */
  private fd: number | undefined;
  private lines = 0;

  constructor(stateDir: string) {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    this.file = join(stateDir, "seen-requests.jsonl");
    let text = "";
    try {
      text = readFileSync(this.file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    for (const line of text.split("\n")) {
      const entry = parseLine(line);
      if (entry) this.seen.set(entry.id, entry.seen);
    }
    // The journal only appends: ids that expired meanwhile are dropped here, and not written back.
    this.prune(Date.now());
    this.fd = this.compact();
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
    this.prune(now);
    this.seen.set(id, entry);
    this.append(id, entry);
  }

  finish(id: string): void {
    const entry = this.seen.get(id);
    if (!entry) return;
    entry.finished = true;
    this.append(id, entry);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private prune(now: number): void {
    for (const [known, e] of this.seen) if (e.expiresAt < now) this.seen.delete(known);
  }

  private append(id: string, entry: SeenRequest): void {
    if (this.fd === undefined) return;
    if (this.lines > this.seen.size + COMPACT_AFTER_LINES) {
      closeSync(this.fd);
      this.fd = this.compact();
    }
    writeSync(this.fd, `${JSON.stringify({ id, ...entry })}\n`);
    this.lines++;
  }

  /** Rewrite the journal with the live entries only; the descriptor to append to. */
  private compact(): number {
    const tmp = `${this.file}.tmp`;
    const text = [...this.seen].map(([id, e]) => `${JSON.stringify({ id, ...e })}\n`).join("");
    writeFileSync(tmp, text, { mode: 0o600 });
    renameSync(tmp, this.file);
    this.lines = this.seen.size;
    return openSync(this.file, "a", 0o600);
  }
}

const JournalLine = z.object({
  id: z.string(),
  expiresAt: z.number(),
  streamSeq: z.number(),
  finished: z.boolean(),
});

/** One journal line; undefined for a line torn by a crash mid-write (only the last can be). */
function parseLine(line: string): { id: string; seen: SeenRequest } | undefined {
  if (!line) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  const parsed = JournalLine.safeParse(value);
  if (!parsed.success) return undefined;
  const { id, ...seen } = parsed.data;
  return { id, seen };
}
