/**
 * One chat network, spoken for only while this replica holds its lease: take the lease, connect,
 * say the run feed from the lease's cursor on, and when the lease is lost (another replica took
 * over) or jarvis stops, stop saying and leave. Without a cluster the lease is always this
 * process's (LocalChatLeaser) and the network is simply connected.
 */
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { errorMessage } from "../errors.js";
import type { ChatLease, ChatLeaser } from "../cluster/chat-lease.js";
import type { ChatAdapter } from "./chat-adapter.js";
import type { ProgressRelay } from "./progress.js";

/** What a holder needs from the bot. */
export interface NetworkHolderParts {
  leaser: ChatLeaser;
  /** A fresh adapter for the network, its messages and states already wired to the bot. */
  makeAdapter(): ChatAdapter;
  /** Say the feed in this network from the lease's cursor on. */
  startRelay(lease: ChatLease): ProgressRelay;
  /** The network is now spoken for by `adapter`, or (undefined) no longer by this replica. */
  onChange(network: string, adapter: ChatAdapter | undefined): void;
  log(line: string): void;
}

/** Pause before connecting again after a connection attempt failed while holding the lease. */
const RETRY_MS = 5_000;

/** Holds one network for as long as it can, until closed. */
export class NetworkHolder {
  /** Settles after the first connection attempt (rejects when it failed and the leaser is immediate). */
  readonly firstAttempt: Promise<void>;
  private readonly closing = new AbortController();
  private readonly running: Promise<void>;
  private settleFirst!: (err?: unknown) => void;

  constructor(
    readonly network: string,
    private readonly parts: NetworkHolderParts,
  ) {
    this.firstAttempt = new Promise<void>((resolve, reject) => {
      this.settleFirst = (err) => (err === undefined ? resolve() : reject(err));
    });
    this.running = this.hold().catch((err: unknown) => {
      this.parts.log(`${network}: chat stopped: ${errorMessage(err)}`);
      this.settleFirst(err);
    });
  }

  /** Leave the network and hand its lease back. */
  async close(): Promise<void> {
    this.closing.abort();
    await this.running;
  }

  private async hold(): Promise<void> {
    const { leaser, log } = this.parts;
    const closing = this.closing.signal;
    while (!closing.aborted) {
      const lease = await leaser.acquire(this.network, closing);
      if (!lease) break;
      const adapter = this.parts.makeAdapter();
      this.parts.onChange(this.network, adapter);
      try {
        await adapter.connect();
        this.settleFirst();
      } catch (err) {
        this.parts.onChange(this.network, undefined);
        await adapter.close();
        await lease.release();
        if (leaser.immediate) throw err;
        log(`${this.network}: not connected (${errorMessage(err)}); lease handed back, trying again`);
        try {
          await sleep(RETRY_MS, undefined, { signal: closing });
        } catch {
          break; // closed while waiting
        }
        continue;
      }
      if (!leaser.immediate) log(`${this.network}: this replica now speaks for the network`);
      const relay = this.parts.startRelay(lease);
      const ended = AbortSignal.any([lease.lost, closing]);
      if (!ended.aborted) await once(ended, "abort");
      relay.close();
      await relay.done;
      this.parts.onChange(this.network, undefined);
      await adapter.close();
      if (closing.aborted) await lease.release();
    }
    this.settleFirst();
  }
}
