/**
 * Matrix through matrix-bot-sdk (no encryption: its crypto package is not used). The sync token is
 * kept on disk under the state dir, so a restart continues where it left off instead of replaying
 * old commands; on a first start without a token, messages older than the start are ignored.
 * The SDK would retry a failing sync silently; its client here (matrix-client.ts) runs that loop
 * itself, so the reconnecting state carries the real wait, and close() ends every request at once.
 * Invites are accepted only from identities the ACL lists.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { LogService, SimpleFsStorageProvider } from "matrix-bot-sdk";
import type { ILogger } from "matrix-bot-sdk";
import { ChatError } from "../../errors.js";
import type { ChatPlace } from "../chat-adapter.js";
import type { MatrixNetworkConfig } from "../chat-config.js";
import { matrixIdentity } from "../identity.js";
import { AdapterBase } from "./base.js";
import { StoppableMatrixClient, isClosedAbort } from "./matrix-client.js";

/** Who may invite the bot into a room. */
export interface MatrixAdapterOptions {
  mayInvite(identity: string): boolean;
  log?: (line: string) => void;
}

interface RoomEvent {
  type?: string;
  sender?: string;
  event_id?: string;
  origin_server_ts?: number;
  content?: { msgtype?: string; body?: unknown; membership?: string; is_direct?: boolean };
}

/** A Matrix account connection. */
export class MatrixAdapter extends AdapterBase {
  private readonly client: StoppableMatrixClient;
  private readonly storage: SimpleFsStorageProvider;
  private failures = 0;
  private startedAt = Date.now();
  private hadToken = false;
  private userId = "";
  private firstConnect: { resolve(): void; reject(err: unknown): void } | undefined;

  constructor(
    private readonly config: MatrixNetworkConfig,
    private readonly options: MatrixAdapterOptions,
  ) {
    super(config.name, {
      maxLineBytes: 30_000,
      maxLines: config.pace.maxLines,
      multiline: true,
      burst: config.pace.burst,
      intervalMs: config.pace.intervalMs,
    });
    quietSdkLogs(options.log);
    mkdirSync(config.stateDir, { recursive: true, mode: 0o700 });
    this.storage = new SimpleFsStorageProvider(join(config.stateDir, "matrix-sync.json"));
    this.client = new StoppableMatrixClient(config.homeserver, config.accessToken, this.storage, {
      synced: () => this.onSynced(),
      failed: (error, waitMs) => this.onSyncFailed(error, waitMs),
    });
    this.client.on("room.message", (roomId: string, event: RoomEvent) => this.onMessage(roomId, event));
    this.client.on("room.invite", (roomId: string, event: RoomEvent) => void this.onInvite(roomId, event));
  }

  /** Start syncing; resolves once the homeserver accepted the token and the configured rooms. */
  async connect(): Promise<void> {
    this.setState({ kind: "connecting" });
    this.startedAt = Date.now();
    this.hadToken = Boolean(await Promise.resolve(this.storage.getSyncToken()));
    const first = new Promise<void>((resolve, reject) => (this.firstConnect = { resolve, reject }));
    try {
      this.userId = await this.client.getUserId();
      for (const room of this.config.rooms) await this.client.joinRoom(room);
      await this.client.start();
      // whoami and the joins went through, so the homeserver is there; a sync with a token
      // long-polls until something happens, and need not be waited for.
      if (this.state.kind === "connecting") this.setState({ kind: "connected" });
      this.firstConnect?.resolve();
      this.firstConnect = undefined;
    } catch (err) {
      const status = (err as { statusCode?: number }).statusCode;
      const code = (err as { body?: { errcode?: string } }).body?.errcode;
      const why = code ?? (err instanceof Error ? err.message : String(err));
      const fatal = status === 401 || status === 403 || code === "M_UNKNOWN_TOKEN" || code === "M_FORBIDDEN";
      throw new ChatError(
        fatal ? "E_CHAT_AUTH" : "E_CHAT_CONNECT",
        `${this.network}: could not start on ${this.config.homeserver} (${why}); ${fatal ? `check chat.${this.network}.access_token and rooms in jarvis.yml` : "is the homeserver reachable?"}`,
        { cause: err },
      );
    }
    return first;
  }

  private onSynced(): void {
    if (this.state.kind !== "connected") this.setState({ kind: "connected" });
    this.failures = 0;
    this.firstConnect?.resolve();
    this.firstConnect = undefined;
  }

  private onSyncFailed(error: unknown, waitMs: number): void {
    if (this.state.kind === "closed") return;
    this.failures++;
    const reason =
      (error as { body?: { errcode?: string } })?.body?.errcode ??
      (error instanceof Error ? error.message : "sync failed");
    this.setState({ kind: "reconnecting", attempt: this.failures, waitMs, reason });
    this.firstConnect?.resolve();
    this.firstConnect = undefined;
  }

  protected async transmit(place: ChatPlace, payload: string): Promise<void> {
    try {
      await this.client.sendMessage(place.room, { msgtype: "m.notice", body: payload });
    } catch (err) {
      const status = (err as { statusCode?: number }).statusCode;
      if (status !== undefined && status >= 400 && status < 500 && status !== 429) {
        throw new ChatError(
          "E_CHAT_SEND",
          `${this.network}: ${place.room} refused the message (${(err as { body?: { errcode?: string } }).body?.errcode ?? status})`,
        );
      }
      throw new ChatError("E_CHAT_DISCONNECTED", `${this.network}: send failed; will retry`, {
        retryable: true,
        cause: err,
      });
    }
  }

  private onMessage(roomId: string, event: RoomEvent): void {
    const sender = event.sender;
    const body = event.content?.body;
    if (!sender || sender === this.userId || typeof body !== "string") return;
    // Bots answer with m.notice and never to one: that keeps two bots from talking in a loop.
    if (event.content?.msgtype !== "m.text") return;
    if (!this.hadToken && (event.origin_server_ts ?? 0) < this.startedAt) return;
    this.messages.emit({
      network: this.network,
      place: { room: roomId, direct: this.client.dms.isDm(roomId) },
      identity: matrixIdentity(this.network, sender),
      displayName: sender,
      text: body,
    });
  }

  private async onInvite(roomId: string, event: RoomEvent): Promise<void> {
    const sender = event.sender ?? "";
    if (!sender || !this.options.mayInvite(matrixIdentity(this.network, sender))) {
      this.options.log?.(
        `${this.network}: ignored an invite to ${roomId} from ${sender || "unknown"} (not in acl.people)`,
      );
      return;
    }
    try {
      await this.client.joinRoom(roomId);
    } catch (err) {
      this.options.log?.(
        `${this.network}: could not join ${roomId}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }

  /** Stop syncing and abort what is in flight (a /sync long-poll holds for up to 40 s). */
  async close(): Promise<void> {
    this.client.stop();
    this.setState({ kind: "closed" });
    this.firstConnect?.reject(new ChatError("E_CHAT_CLOSED", `${this.network}: closed while connecting`));
    this.firstConnect = undefined;
  }
}

let quieted = false;

/** The SDK logs every sync at info level to the console; keep only errors, one line each. */
function quietSdkLogs(log: ((line: string) => void) | undefined): void {
  if (quieted) return;
  quieted = true;
  const write = (module: string, args: unknown[]): void => {
    const text = args
      .map((a) => (a instanceof Error ? a.message : typeof a === "string" ? a : ""))
      .join(" ")
      .replace(/access_token=[^&\s]+/g, "access_token=***");
    (log ?? ((line: string) => process.stderr.write(`${line}\n`)))(`matrix-bot-sdk ${module}: ${text}`);
  };
  const logger: ILogger = {
    info: () => undefined,
    warn: () => undefined,
    debug: () => undefined,
    trace: () => undefined,
    error: (module: string, ...args: unknown[]) => {
      // Failed syncs are reported as connection states already, and aborts are what close() asked.
      if (args.some(isClosedAbort)) return;
      if (!/sync/i.test(String(args[0] ?? ""))) write(module, args);
    },
  };
  LogService.setLogger(logger);
}
