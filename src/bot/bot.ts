/**
 * The chat front: starts every network jarvis.yml configures, all at once (or the console chat
 * when none is), and turns each addressed line into parse -> identity -> rate limit -> ACL ->
 * command -> reply, auditing every command and every refusal. Run progress goes to the room that
 * started the run, whichever network that is.
 */
import type { JarvisConfig } from "../config.js";
import { errorMessage } from "../errors.js";
import type { RunControl } from "../pipeline/run-control.js";
import type { RunStore } from "../store/run-store.js";
import { decide, rolesOf } from "./acl.js";
import { audit } from "./audit.js";
import type { ChatAdapter, IncomingMessage } from "./chat-adapter.js";
import { loadChatConfig } from "./chat-config.js";
import type { ChatConfig } from "./chat-config.js";
import { parseChatLine } from "./command-parser.js";
import { CommandInputError, commandHost, executeCommand } from "./commands.js";
import { describeState } from "./connection-state.js";
import { ConsoleAdapter } from "./adapters/console.js";
import { createAdapter } from "./adapters/registry.js";
import { ProgressRelay, originOfPlace } from "./progress.js";
import { CommandLimiter } from "./rate-limit.js";
import { printable } from "../text/printable.js";

/** The running chat front. */
export interface Bot {
  /** The adapters it started, by network name. */
  adapters: ReadonlyMap<string, ChatAdapter>;
  /** Leave every network and stop following runs. */
  close(): Promise<void>;
}

/** What the bot needs of jarvis. */
export interface BotHost {
  config: JarvisConfig;
  store: RunStore;
  control: RunControl;
}

/** Options for startBot. */
export interface BotOptions {
  /** Console input (default process.stdin). */
  input?: NodeJS.ReadableStream;
  /** Console output (default process.stdout). */
  output?: NodeJS.WritableStream;
  /** Whether the console reads commands (default: input is a TTY). */
  interactive?: boolean;
  /** Where connection states and internal errors are reported (default stderr). */
  log?: (line: string) => void;
}

/** Start the chat front; resolves once every network has connected or made its first attempt. */
export async function startBot(jarvis: BotHost, options: BotOptions = {}): Promise<Bot> {
  const chat = loadChatConfig(jarvis.config);
  const log = options.log ?? ((line: string) => process.stderr.write(`${printable(line)}\n`));
  const input = options.input ?? process.stdin;
  const adapters: ChatAdapter[] =
    chat.networks.length > 0
      ? chat.networks.map((n) =>
          createAdapter(n, { log, mayInvite: (id) => rolesOf(chat.acl, id).length > 0 }),
        )
      : [
          new ConsoleAdapter({
            input,
            output: options.output ?? process.stdout,
            interactive: options.interactive ?? Boolean((input as { isTTY?: boolean }).isTTY),
          }),
        ];
  const byNetwork = new Map(adapters.map((a) => [a.network, a]));
  const handler = new CommandHandler(jarvis, chat, log);
  const relay = new ProgressRelay(
    jarvis.control,
    (network, place, line) => {
      byNetwork
        .get(network)
        ?.send(place, line)
        .catch((err: unknown) => log(`${network}: progress line not sent: ${errorMessage(err)}`));
    },
    chat.nick,
  );
  for (const adapter of adapters) {
    adapter.states.on((state) => log(describeState(adapter.network, state)));
    adapter.messages.on((message) => void handler.handle(adapter, message));
  }
  const results = await Promise.allSettled(adapters.map((a) => a.connect()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  const close = async (): Promise<void> => {
    relay.close();
    await Promise.allSettled(adapters.map((a) => a.close()));
  };
  if (failed) {
    await close();
    throw failed.reason;
  }
  return { adapters: byNetwork, close };
}

/** Parse, check and run one chat line. */
class CommandHandler {
  private readonly limiter: CommandLimiter;
  private readonly rooms = new Map<string, Set<string>>();

  constructor(
    private readonly jarvis: BotHost,
    private readonly chat: ChatConfig,
    private readonly log: (line: string) => void,
  ) {
    this.limiter = new CommandLimiter(chat.rateLimit.burst, chat.rateLimit.intervalMs, chat.rateLimit.exempt);
    for (const n of chat.networks) {
      const rooms =
        n.kind === "irc"
          ? n.channels.map((c) => c.name)
          : n.kind === "xmpp"
            ? n.rooms.map((r) => r.jid)
            : n.rooms;
      this.rooms.set(n.name, new Set(rooms.map((r) => r.toLowerCase())));
    }
  }

  async handle(adapter: ChatAdapter, message: IncomingMessage): Promise<void> {
    const parsed = parseChatLine(message.text, this.chat.nick, message.place.direct);
    if (parsed.kind === "ignored") return;
    const identity = message.identity;
    const who = identity ?? `${message.network}:?${message.displayName}`;
    const unpaced = identity !== undefined && this.chat.rateLimit.exempt.has(identity);
    const base = {
      identity: who,
      network: message.network,
      room: message.place.direct ? `dm:${message.place.room}` : message.place.room,
    };
    const answer = (text: string, pointer?: string): void => {
      adapter
        .reply(message, text, { unpaced, ...(pointer ? { pointer } : {}) })
        .catch((err: unknown) => this.log(`${message.network}: reply not sent: ${errorMessage(err)}`));
    };
    const text = parsed.kind === "command" ? parsed.command.text : parsed.text;
    if (!this.limiter.allow(who)) {
      answer("too many commands; wait a few seconds");
      await audit(
        this.jarvis.store,
        { ...base, command: text, decision: "denied", reason: "rate limited", runId: null },
        this.log,
      );
      return;
    }
    if (parsed.kind === "error") {
      answer(parsed.message);
      await audit(
        this.jarvis.store,
        { ...base, command: text, decision: "error", reason: parsed.message, runId: null },
        this.log,
      );
      return;
    }
    const command = parsed.command;
    const configuredRoom =
      adapter.network === "console" ||
      (!message.place.direct &&
        (this.rooms.get(message.network)?.has(message.place.room.toLowerCase()) ?? false));
    const decision = decide(this.chat.acl, {
      identity,
      verb: command.verb,
      host: commandHost(command),
      configuredRoom,
    });
    if (!decision.allowed) {
      answer(`denied: ${decision.reason}`);
      await audit(
        this.jarvis.store,
        { ...base, command: text, decision: "denied", reason: decision.reason, runId: null },
        this.log,
      );
      return;
    }
    try {
      const reply = await executeCommand(command, {
        control: this.jarvis.control,
        who: { identity: who, origin: originOfPlace(message.network, message.place) },
        botName: this.chat.nick,
        maxLines: this.maxLines(message.network),
        roles: rolesOf(this.chat.acl, identity),
      });
      answer(reply.text, reply.pointer);
      await audit(
        this.jarvis.store,
        { ...base, command: text, decision: "allowed", reason: decision.reason, runId: reply.runId ?? null },
        this.log,
      );
    } catch (err) {
      const why = errorMessage(err).split("\n")[0] ?? "";
      answer(err instanceof CommandInputError ? why : `error: ${why}`);
      await audit(
        this.jarvis.store,
        { ...base, command: text, decision: "error", reason: why, runId: null },
        this.log,
      );
    }
  }

  private maxLines(network: string): number {
    return this.chat.networks.find((n) => n.name === network)?.pace.maxLines ?? 40;
  }
}
