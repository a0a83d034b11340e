/**
 * XMPP through @xmpp/client: direct chats and multi-user chat rooms. Rooms are joined with history
 * suppressed (maxstanzas=0) and delayed messages are ignored, so old commands are never replayed.
 * @xmpp/reconnect retries at a fixed delay and knows nothing of rooms; here the adapter reconnects
 * with backoff and rejoins every room once online again.
 *
 * Identity: the bare JID of a direct chat; in a room, the occupant's real JID as the room shows it
 * (rooms configured with whois=anyone). Where a room hides real JIDs there is no identity.
 */
import { client, xml } from "@xmpp/client";
import type { Element, XmppClient } from "@xmpp/client";
import { ChatError } from "../../errors.js";
import type { ChatPlace } from "../chat-adapter.js";
import type { XmppNetworkConfig } from "../chat-config.js";
import { backoffMs } from "../connection-state.js";
import { xmppIdentity } from "../identity.js";
import { AdapterBase } from "./base.js";

const MUC = "http://jabber.org/protocol/muc";
const MUC_USER = "http://jabber.org/protocol/muc#user";
const DELAY = "urn:xmpp:delay";

/** An XMPP account connection. */
export class XmppAdapter extends AdapterBase {
  private readonly xmpp: XmppClient;
  private closing = false;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private online = false;
  private firstConnect: { resolve(): void; reject(err: unknown): void } | undefined;
  /** room JID (lower case) -> occupant nick -> real bare JID, from presence. */
  private readonly occupants = new Map<string, Map<string, string>>();
  private readonly rooms: Map<string, XmppNetworkConfig["rooms"][number]>;

  constructor(private readonly config: XmppNetworkConfig) {
    super(config.name, {
      maxLineBytes: 8_000,
      maxLines: config.pace.maxLines,
      multiline: true,
      burst: config.pace.burst,
      intervalMs: config.pace.intervalMs,
    });
    this.rooms = new Map(config.rooms.map((r) => [r.jid.toLowerCase(), r]));
    this.xmpp = client({
      service: config.service,
      domain: config.domain,
      username: config.username,
      password: config.password,
      resource: config.resource,
    });
    // Reconnection is ours: with backoff, and with the rooms rejoined.
    this.xmpp.reconnect.stop();
    this.xmpp.on("error", (err: Error) => this.onError(err));
    this.xmpp.on("online", () => void this.onOnline());
    this.xmpp.on("status", (status: string) => {
      if (status === "disconnect") this.onDisconnect();
    });
    this.xmpp.on("stanza", (stanza: Element) => this.onStanza(stanza));
  }

  /** Connect; resolves once online or after the first failed attempt (retrying goes on). */
  connect(): Promise<void> {
    this.closing = false;
    this.setState({ kind: "connecting" });
    const first = new Promise<void>((resolve, reject) => (this.firstConnect = { resolve, reject }));
    this.xmpp.start().catch((err: unknown) => this.onError(err));
    return first;
  }

  private onError(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    const condition = (err as { condition?: string }).condition;
    if (err && typeof err === "object" && (err as { name?: string }).name === "SASLError") {
      const refused = new ChatError(
        "E_CHAT_AUTH",
        `${this.network}: login as ${this.config.username}@${this.config.domain} refused (${condition ?? message}); check chat.${this.network}.username/password in jarvis.yml`,
      );
      this.firstConnect?.reject(refused);
      this.firstConnect = undefined;
      return;
    }
    this.lastError = message;
  }

  private lastError = "";

  private async onOnline(): Promise<void> {
    this.attempt = 0;
    this.online = true;
    this.occupants.clear();
    try {
      await this.xmpp.send(xml("presence"));
      for (const room of this.rooms.values()) {
        await this.xmpp.send(
          xml(
            "presence",
            { to: `${room.jid}/${room.nick}` },
            xml(
              "x",
              { xmlns: MUC },
              xml("history", { maxstanzas: "0" }),
              ...(room.password ? [xml("password", {}, room.password)] : []),
            ),
          ),
        );
      }
    } catch (err) {
      this.lastError = err instanceof Error ? err.message : String(err);
    }
    this.setState({ kind: "connected" });
    this.firstConnect?.resolve();
    this.firstConnect = undefined;
  }

  private onDisconnect(): void {
    this.online = false;
    if (this.closing) return;
    this.attempt++;
    const waitMs = backoffMs(this.attempt, 30_000);
    this.setState({
      kind: "reconnecting",
      attempt: this.attempt,
      waitMs,
      reason: this.lastError || "connection closed",
    });
    this.lastError = "";
    this.firstConnect?.resolve();
    this.firstConnect = undefined;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (this.closing || this.xmpp.status !== "disconnect") return;
      this.xmpp.reconnect.reconnect().catch((err: unknown) => this.onError(err));
    }, waitMs);
  }

  protected async transmit(place: ChatPlace, payload: string): Promise<void> {
    if (!this.online || this.xmpp.status !== "online")
      throw new ChatError("E_CHAT_DISCONNECTED", `${this.network}: not connected`, { retryable: true });
    await this.xmpp.send(
      xml("message", { to: place.room, type: place.direct ? "chat" : "groupchat" }, xml("body", {}, payload)),
    );
  }

  private onStanza(stanza: Element): void {
    const from = stanza.attrs.from ?? "";
    const [bare = "", ...resourceParts] = from.split("/");
    const resource = resourceParts.join("/");
    const room = this.rooms.get(bare.toLowerCase());
    if (stanza.is("presence")) {
      if (room) this.trackOccupant(bare.toLowerCase(), resource, stanza);
      return;
    }
    if (!stanza.is("message")) return;
    const body = stanza.getChildText("body");
    if (body === null || stanza.attrs.type === "error" || stanza.getChild("delay", DELAY)) return;
    if (room) {
      if (resource === "" || resource === room.nick) return; // the room itself, or our own echo
      const real = this.occupants.get(bare.toLowerCase())?.get(resource);
      const direct = stanza.attrs.type !== "groupchat"; // a private message through the room
      this.messages.emit({
        network: this.network,
        place: direct ? { room: from, direct: true } : { room: room.jid, direct: false },
        identity: real ? xmppIdentity(this.network, real) : undefined,
        ...(real ? {} : { identityProblem: `room ${room.jid} does not show real JIDs` }),
        displayName: resource,
        text: body,
      });
      return;
    }
    this.messages.emit({
      network: this.network,
      place: { room: from, direct: true },
      identity: xmppIdentity(this.network, bare),
      displayName: bare,
      text: body,
    });
  }

  /** Keep each room's nick -> real JID map from presence (whois=anyone rooms include the JID). */
  private trackOccupant(room: string, nick: string, stanza: Element): void {
    let map = this.occupants.get(room);
    if (!map) this.occupants.set(room, (map = new Map()));
    const item = stanza.getChild("x", MUC_USER)?.getChild("item");
    if (stanza.attrs.type === "unavailable") {
      map.delete(nick);
      return;
    }
    const jid = item?.attrs.jid;
    if (jid) map.set(nick, jid.split("/")[0] ?? jid);
    else map.delete(nick);
  }

  /** Leave and stop reconnecting. */
  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.timer);
    this.online = false;
    try {
      await Promise.race([this.xmpp.stop(), new Promise((resolve) => setTimeout(resolve, 3_000))]);
    } catch {
      // Already down: nothing to leave.
    }
    this.setState({ kind: "closed" });
  }
}
