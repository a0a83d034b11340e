/**
 * A matrix-bot-sdk MatrixClient that the Matrix adapter can stop at once and whose retries it can
 * see. The SDK's own sync loop retries a failed /sync after a random 5-15 s that it never tells
 * anyone, and its stop() only takes effect when the pending /sync long-poll (up to 40 s) or that
 * wait ends: both keep a stopping process alive. So this client runs the same loop itself, with
 * the wait announced before it starts and abortable, and close() aborts every HTTP request the
 * client has in flight.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { MatrixClient, getRequestFn, setRequestFn } from "matrix-bot-sdk";
import { ChatError } from "../../errors.js";

/** The SDK's own bounds for the wait after a failed /sync (MatrixClient.js SYNC_BACKOFF_*). */
export const SYNC_RETRY_MIN_MS = 5_000;
export const SYNC_RETRY_MAX_MS = 15_000;

/** What the client reports about its sync loop. */
export interface SyncObserver {
  synced(): void;
  /** A /sync failed; the next one starts after exactly `waitMs`. */
  failed(error: unknown, waitMs: number): void;
}

type RequestCallback = (error: unknown, response?: unknown, body?: unknown) => void;
type RequestFn = (params: unknown, callback: RequestCallback) => { abort(): void };
type EmitFn = (emitEventType: string, ...payload: unknown[]) => Promise<unknown>;

/** The abort handles of the requests one client has in flight; the SDK's calls run inside it. */
const requestOwner = new AsyncLocalStorage<Set<() => void>>();
let tracking = false;

/**
 * The SDK sends every request through one replaceable `request`-compatible function, but keeps the
 * request object to itself. Wrap that function once per process so a request made on behalf of a
 * StoppableMatrixClient (found through requestOwner) can be aborted; an aborted request fails with
 * E_CHAT_CLOSED, so the SDK call that made it settles instead of waiting forever.
 */
function trackSdkRequests(): void {
  if (tracking) return;
  tracking = true;
  const original = getRequestFn() as RequestFn;
  setRequestFn((params: unknown, callback: RequestCallback) => {
    const owner = requestOwner.getStore();
    if (!owner) return original(params, callback);
    let settled = false;
    const settle: RequestCallback = (...args) => {
      if (settled) return;
      settled = true;
      owner.delete(abort);
      callback(...args);
    };
    const request = original(params, settle);
    const abort = (): void => {
      request.abort();
      settle(new ChatError("E_CHAT_CLOSED", "matrix: request aborted because the adapter closed"));
    };
    owner.add(abort);
    return request;
  });
}

/** Whether an error is one of the aborts close() causes (the SDK logs those; they are no news). */
export function isClosedAbort(err: unknown): boolean {
  return err instanceof ChatError && err.code === "E_CHAT_CLOSED";
}

/** A MatrixClient with a visible, stoppable sync loop. */
export class StoppableMatrixClient extends MatrixClient {
  private readonly inFlight = new Set<() => void>();
  private readonly stopping = new AbortController();

  constructor(
    homeserverUrl: string,
    accessToken: string,
    storage: ConstructorParameters<typeof MatrixClient>[2],
    private readonly observer: SyncObserver,
  ) {
    super(homeserverUrl, accessToken, storage);
    trackSdkRequests();
  }

  override doRequest(...args: Parameters<MatrixClient["doRequest"]>): Promise<unknown> {
    if (this.stopping.signal.aborted) {
      return Promise.reject(new ChatError("E_CHAT_CLOSED", "matrix: the adapter is closed"));
    }
    return requestOwner.run(this.inFlight, () => super.doRequest(...args) as Promise<unknown>);
  }

  protected override async startSync(emitFn?: EmitFn): Promise<void> {
    const token = (await Promise.resolve(this.storageProvider.getSyncToken())) ?? null;
    void this.syncLoop(token, emitFn);
  }

  /** The SDK's loop (MatrixClient.startSync), with the retry wait reported and abortable. */
  private async syncLoop(token: string | null, emitFn?: EmitFn): Promise<void> {
    const signal = this.stopping.signal;
    const longPollMs = this.syncingTimeout;
    while (!signal.aborted) {
      try {
        const response = (await this.doSync(token ?? "")) as { next_batch: string };
        this.syncingTimeout = longPollMs;
        token = response.next_batch;
        if (!this.persistTokenAfterSync) await Promise.resolve(this.storageProvider.setSyncToken(token));
        await this.processSync(response, emitFn);
        if (this.persistTokenAfterSync) await Promise.resolve(this.storageProvider.setSyncToken(token));
        this.observer.synced();
      } catch (err) {
        if (signal.aborted) return;
        const waitMs = Math.round(
          SYNC_RETRY_MIN_MS + Math.random() * (SYNC_RETRY_MAX_MS - SYNC_RETRY_MIN_MS),
        );
        this.observer.failed(err, waitMs);
        // The retry must not long-poll: with nothing new, a homeserver that is back would hold it
        // for the whole timeout (30 s), and the adapter would report reconnecting all that time.
        this.syncingTimeout = 0;
        try {
          await sleep(waitMs, undefined, { signal });
        } catch (abort) {
          if (signal.aborted) return;
          throw abort;
        }
      }
    }
  }

  /** Stop syncing and abort every request in flight; nothing of this client keeps the process up. */
  override stop(): void {
    super.stop();
    this.stopping.abort();
    for (const abort of [...this.inFlight]) abort();
  }
}
