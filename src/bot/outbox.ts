/**
 * What an adapter sends goes through its outbox: text is cut to what the network allows (bytes per
 * line, lines per reply) with a pointer to the rest, lines are paced by a token bucket, and while
 * the network is down everything waits in order and is sent after reconnecting: none dropped.
 */
import { ChatError, JarvisError } from "../errors.js";
import type { ChatPlace, SendOptions } from "./chat-adapter.js";
import { TokenBucket } from "./rate-limit.js";

/** Wait before sending again after a send failed on a connection that still looked up. */
const RETRY_MS = 1_000;

/** How one network takes text. */
export interface OutboxOptions {
  /** Longest line in UTF-8 bytes (IRC: 512 minus prefix and command; others: message size). */
  maxLineBytes: number;
  /** Most lines of one reply before it is cut with the pointer. */
  maxLines: number;
  /** Whether one message may hold several lines (XMPP, Matrix) or each line is a message (IRC). */
  multiline: boolean;
  /** Lines sent at once before pacing starts, and the pace after that (0: no pacing). */
  burst: number;
  intervalMs: number;
  /**
   * Put one message on the wire. Throwing a non-retryable JarvisError rejects that message; any
   * other throw means the connection is down, and the message is sent again after reconnecting.
   */
  transmit(place: ChatPlace, payload: string): Promise<void>;
}

interface Pending {
  place: ChatPlace;
  payload: string;
  unpaced: boolean;
  resolve(): void;
  reject(err: unknown): void;
}

/** Cut `text` into lines that fit: control characters removed, long lines cut, too many lines cut. */
export function cutText(text: string, maxLineBytes: number, maxLines: number, pointer?: string): string[] {
  const clean = text.replace(/\r\n?/g, "\n").replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, "");
  const lines = clean.split("\n").filter((l) => l.trim() !== "");
  const out: string[] = [];
  let cutAny = false;
  for (const line of lines) {
    if (out.length >= maxLines) {
      cutAny = true;
      break;
    }
    const fitted = fitBytes(line, maxLineBytes);
    if (fitted !== line) cutAny = true;
    out.push(fitted);
  }
  if (cutAny) {
    // The pointer takes the last line's place, so that line counts among the ones not shown.
    if (out.length >= maxLines) out.pop();
    const more = lines.length > out.length ? `${lines.length - out.length} more lines` : "cut";
    out.push(fitBytes(`… (${more}${pointer ? `; ${pointer}` : ""})`, maxLineBytes));
  }
  return out;
}

/** The longest prefix of `line` within `maxBytes` UTF-8 bytes, ending in "…" when cut. */
export function fitBytes(line: string, maxBytes: number): string {
  if (Buffer.byteLength(line) <= maxBytes) return line;
  const budget = maxBytes - 3; // the ellipsis is three bytes
  let bytes = 0;
  let end = 0;
  for (const ch of line) {
    const size = Buffer.byteLength(ch);
    if (bytes + size > budget) break;
    bytes += size;
    end += ch.length;
  }
  return `${line.slice(0, end)}…`;
}

/** The send queue of one adapter. */
export class Outbox {
  private readonly queue: Pending[] = [];
  private readonly bucket: TokenBucket;
  private connected = false;
  private pumping = false;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: OutboxOptions) {
    this.bucket = new TokenBucket(Math.max(1, options.burst), options.intervalMs);
  }

  /** Number of messages waiting. */
  get pending(): number {
    return this.queue.length;
  }

  /** Queue text for `place`; resolves when every part of it is on the wire. */
  send(place: ChatPlace, text: string, options: SendOptions = {}): Promise<void> {
    if (this.closed)
      return Promise.reject(
        new ChatError("E_CHAT_CLOSED", "the chat connection is closed; the message was not sent"),
      );
    const lines = cutText(text, this.options.maxLineBytes, this.options.maxLines, options.pointer);
    const payloads = this.options.multiline ? (lines.length ? [lines.join("\n")] : []) : lines;
    const sent = payloads.map(
      (payload) =>
        new Promise<void>((resolve, reject) => {
          this.queue.push({ place, payload, unpaced: options.unpaced ?? false, resolve, reject });
        }),
    );
    this.pump();
    return Promise.all(sent).then(() => undefined);
  }

  /** Tell the outbox whether the network is up; going up flushes what waited. */
  setConnected(connected: boolean): void {
    this.connected = connected;
    if (connected) this.pump();
  }

  /** Stop; messages still waiting are rejected (the caller is shutting down on purpose). */
  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    for (const item of this.queue.splice(0)) {
      item.reject(
        new ChatError("E_CHAT_CLOSED", "the chat connection was closed before the message could be sent"),
      );
    }
  }

  private pump(): void {
    this.retryTimer = undefined;
    if (this.pumping || !this.connected) return;
    this.pumping = true;
    void this.drain().finally(() => {
      this.pumping = false;
      if (this.connected && this.queue.length > 0 && !this.closed && !this.retryTimer) this.pump();
    });
  }

  private async drain(): Promise<void> {
    while (this.connected && !this.closed) {
      const item = this.queue[0];
      if (!item) return;
      if (!item.unpaced) await this.bucket.take();
      if (!this.connected || this.closed) return;
      try {
        await this.options.transmit(item.place, item.payload);
      } catch (err) {
        if (err instanceof JarvisError && !err.retryable) {
          // The network refused this message for good (not in that room): report, go on.
          this.queue.shift();
          item.reject(err);
          continue;
        }
        // The connection dropped under us: keep the message at the head and try again shortly
        // (or as soon as the adapter reports it is connected again).
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => this.pump(), RETRY_MS);
        return;
      }
      this.queue.shift();
      item.resolve();
    }
  }
}
