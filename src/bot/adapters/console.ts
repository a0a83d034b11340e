/**
 * The console adapter: a chat in the terminal, the embedded default when jarvis.yml configures no
 * network. Same commands, no address needed; the identity is `console:<os user>`. When standard
 * input is not a terminal (or not interactive by choice) it stays quiet: no prompt, no reading.
 */
import { createInterface } from "node:readline";
import type { Interface } from "node:readline";
import type { ChatAdapter, ChatPlace, IncomingMessage, SendOptions } from "../chat-adapter.js";
import type { ConnectionState } from "../connection-state.js";
import { EventStream } from "../event-stream.js";
import { consoleIdentity } from "../identity.js";
import { printable } from "../../text/printable.js";

/** Where the console reads and writes. */
export interface ConsoleOptions {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  /** Read commands and show a prompt; false keeps the adapter quiet. */
  interactive: boolean;
}

/** The one place of the console chat. */
export const CONSOLE_PLACE: ChatPlace = { room: "console", direct: true };

/** The terminal chat. */
export class ConsoleAdapter implements ChatAdapter {
  readonly network = "console";
  readonly messages = new EventStream<IncomingMessage>();
  readonly states = new EventStream<ConnectionState>();
  private current: ConnectionState = { kind: "closed" };
  private rl: Interface | undefined;
  private readonly identity = consoleIdentity();

  constructor(private readonly options: ConsoleOptions) {}

  /** The current state. */
  get state(): ConnectionState {
    return this.current;
  }

  /** Start reading lines (only when interactive). */
  async connect(): Promise<void> {
    this.setState({ kind: "connecting" });
    if (this.options.interactive) {
      this.rl = createInterface({
        input: this.options.input,
        output: this.options.output,
        terminal: false,
        prompt: "jarvis> ",
      });
      this.rl.on("line", (line) => {
        if (line.trim() !== "") {
          this.messages.emit({
            network: this.network,
            place: CONSOLE_PLACE,
            identity: this.identity,
            displayName: this.identity,
            text: line,
          });
        }
        this.rl?.prompt();
      });
      // A closed stdin ends the chat, not the service.
      this.rl.on("close", () => (this.rl = undefined));
      this.options.output.write(`jarvis console: you are ${this.identity}; type "help" for commands\n`);
      this.rl.prompt();
    }
    this.setState({ kind: "connected" });
  }

  /** Write text to the terminal, escaped (printable.ts); stays quiet when not interactive. */
  async send(_place: ChatPlace, text: string, _options?: SendOptions): Promise<void> {
    if (!this.options.interactive) return;
    const shown = printable(text);
    this.options.output.write(shown.endsWith("\n") ? shown : `${shown}\n`);
  }

  /** Same as send: the console has one place. */
  reply(message: IncomingMessage, text: string, options?: SendOptions): Promise<void> {
    return this.send(message.place, text, options);
  }

  /** Stop reading. */
  async close(): Promise<void> {
    this.rl?.close();
    this.setState({ kind: "closed" });
    this.messages.close();
    this.states.close();
  }

  private setState(state: ConnectionState): void {
    this.current = state;
    this.states.emit(state);
  }
}
