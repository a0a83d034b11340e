/**
 * What every network adapter shares: the two streams, the current state, the outbox that queues
 * while disconnected and paces against flood limits, and reply addressing. Subclasses only talk
 * to their library and report states.
 */
import type { ChatAdapter, ChatPlace, IncomingMessage, SendOptions } from "../chat-adapter.js";
import type { ConnectionState } from "../connection-state.js";
import { EventStream } from "../event-stream.js";
import { Outbox } from "../outbox.js";
import { printable } from "../../text/printable.js";
import type { OutboxOptions } from "../outbox.js";

/** The shared half of a network adapter. */
export abstract class AdapterBase implements ChatAdapter {
  readonly messages = new EventStream<IncomingMessage>();
  readonly states = new EventStream<ConnectionState>();
  protected readonly outbox: Outbox;
  private current: ConnectionState = { kind: "closed" };

  constructor(
    readonly network: string,
    outbox: Omit<OutboxOptions, "transmit">,
  ) {
    this.outbox = new Outbox({ ...outbox, transmit: (place, payload) => this.transmit(place, payload) });
  }

  /** The current connection state. */
  get state(): ConnectionState {
    return this.current;
  }

  abstract connect(): Promise<void>;
  abstract close(): Promise<void>;

  /** Put one message on the wire; throw when the connection is down. */
  protected abstract transmit(place: ChatPlace, payload: string): Promise<void>;

  /** Record and announce a new state; connected flushes the outbox. */
  protected setState(state: ConnectionState): void {
    this.current = state;
    this.outbox.setConnected(state.kind === "connected");
    this.states.emit(state);
    if (state.kind === "closed") {
      this.outbox.close();
      this.messages.close();
      this.states.close();
    }
  }

  /** Queue text for a place, control and bidi characters shown as escapes (printable.ts). */
  send(place: ChatPlace, text: string, options?: SendOptions): Promise<void> {
    return this.outbox.send(place, printable(text), options);
  }

  /** In a room, the reply is addressed to its author ("alice: ..."); in a direct chat, bare. */
  reply(message: IncomingMessage, text: string, options?: SendOptions): Promise<void> {
    const addressed = message.place.direct ? text : `${message.displayName}: ${text}`;
    return this.send(message.place, addressed, options);
  }
}
