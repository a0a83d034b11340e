/**
 * The one interface every chat network implements (DESIGN.md convention 2): connect, send, reply,
 * close, and two streams: incoming messages and connection states. Adapters deliver text as the
 * network gave it; the bot decides whether a message is addressed to it and what it means.
 */
import type { ConnectionState } from "./connection-state.js";
import type { EventStream } from "./event-stream.js";

/** Where a message came from, and so where its reply goes. */
export interface ChatPlace {
  /** The room (channel, MUC, Matrix room id); for a direct message, the peer's address. */
  room: string;
  /** True for a direct (private) message, false for a room. */
  direct: boolean;
}

/** A message someone wrote, as the adapter saw it. */
export interface IncomingMessage {
  /** The configured network name (e.g. "irc", "libera"), the prefix of identities and origins. */
  network: string;
  place: ChatPlace;
  /**
   * The identity the network vouches for ("irc:alice", "irc:alice!~a@host", "xmpp:a@b",
   * "matrix:@a:b"), or undefined when the network gives none we trust (anonymous MUC).
   */
  identity: string | undefined;
  /** Why there is no identity, for the refusal message. */
  identityProblem?: string;
  /** The name people see (nick, resource, display name): for addressing replies, never for rights. */
  displayName: string;
  text: string;
}

/** Options for an outgoing message. */
export interface SendOptions {
  /** Shown after the cut when the text is longer than the network allows ("see `jarvis log loki`"). */
  pointer?: string;
  /** Skip the flood pacing (bench users, configured as exempt). */
  unpaced?: boolean;
}

/** A chat network connection. */
export interface ChatAdapter {
  /** The configured network name. */
  readonly network: string;
  /** Incoming messages, from connect() until close(). */
  readonly messages: EventStream<IncomingMessage>;
  /** Connection states, from connect() until close() (which emits `closed`). */
  readonly states: EventStream<ConnectionState>;
  /** The current state. */
  readonly state: ConnectionState;
  /** Start connecting; resolves once connected the first time (rejects on a refused login). */
  connect(): Promise<void>;
  /**
   * Send text to a room or user. Queued while disconnected and sent after reconnecting; long text
   * is cut to what the network allows and paced against flood limits. Resolves once sent.
   */
  send(place: ChatPlace, text: string, options?: SendOptions): Promise<void>;
  /** Answer a message where it came from (in a room, addressed to its author). */
  reply(message: IncomingMessage, text: string, options?: SendOptions): Promise<void>;
  /** Leave the network and stop reconnecting. */
  close(): Promise<void>;
}
