/**
 * The chat front: starts every network jarvis.yml configures, all at once (or the console chat
 * when none is), hands each addressed line with the identity the network vouches for to the
 * dispatcher (src/commands/), and renders its reply. Run progress goes to the room that started
 * the run, whichever network that is.
 */
import type { JarvisConfig } from "../config.js";
import { redactorForConfig } from "../clipboard/config-redactor.js";
import type { Redactor } from "../clipboard/redact.js";
import { ChatError, errorMessage } from "../errors.js";
import { LocalChatLeaser } from "../cluster/chat-lease.js";
import type { ChatLease, ChatLeaser } from "../cluster/chat-lease.js";
import { NetworkHolder } from "./network-holder.js";
import type { JobDesk } from "../commands/job-execute.js";
import type { ScheduleBookStore } from "../schedule/schedule-book.js";
import type { NodeEventStore } from "../store/node-event-store.js";
import type { NodeDirectory } from "../inventory/node-view.js";
import type { RunControl } from "../pipeline/run-control.js";
import { rolesOf } from "../commands/acl.js";
import { Dispatcher } from "../commands/dispatcher.js";
import { parseChatLine } from "../commands/command-parser.js";
import type { ChatAdapter, IncomingMessage } from "./chat-adapter.js";
import { loadChatConfig } from "./chat-config.js";
import type { ChatConfig } from "./chat-config.js";
import { renderChatReply } from "./commands.js";
import { describeState } from "./connection-state.js";
import { ConsoleAdapter } from "./adapters/console.js";
import { createAdapter } from "./adapters/registry.js";
import { ProgressRelay, originOfPlace, placeOfOrigin } from "./progress.js";
import type { DeliverLine } from "./progress.js";
import { StepOutputFollower } from "./step-output-follower.js";
import type { FollowPace } from "./step-output-follower.js";
import type { Reply } from "../commands/reply.js";
import { CommandLimiter } from "./rate-limit.js";
import { printable } from "../text/printable.js";

/** The running chat front. */
export interface Bot {
  /** The adapters speaking now, by network name: with replicas, only the networks this one holds. */
  adapters: ReadonlyMap<string, ChatAdapter>;
  /** Say a line in a room named as a run origin (`irc:#ops`); a room of no network here is skipped. */
  announce(room: string, line: string): void;
  /** Leave every network (handing their leases back) and stop following runs. */
  close(): Promise<void>;
}

/** What the bot needs of jarvis: runs are reached through RunControl only. */
export interface BotHost {
  config: JarvisConfig;
  control: RunControl;
  /** Where `hosts` looks (Jarvis.nodes); optional so a bot can run without agents. */
  nodes?: NodeDirectory | undefined;
  /** Jobs on the agents (Jarvis.jobs); optional for the same reason. */
  jobs?: JobDesk | undefined;
  /** Where schedules are kept (Jarvis.store); optional so a bot can run without them. */
  store?: ScheduleBookStore & NodeEventStore;
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
  /**
   * Who may speak for each configured network: with replicas, the cluster's leases (only the
   * holder connects); by default every network is this process's. The console is always local.
   */
  leaser?: ChatLeaser;
  /** Told the networks this process speaks for, each time that changes. */
  onHeld?: (networks: string[]) => void;
}

/**
 * Start the chat front. Without replicas it resolves once every network has connected or made its
 * first attempt; with them at once, each network being taken when its lease is.
 */
export async function startBot(jarvis: BotHost, options: BotOptions = {}): Promise<Bot> {
  const chat = loadChatConfig(jarvis.config);
  const log = options.log ?? ((line: string) => process.stderr.write(`${printable(line)}\n`));
  const input = options.input ?? process.stdin;
  const local = new LocalChatLeaser(() => jarvis.control.latestSeq());
  const networks: { name: string; leaser: ChatLeaser; make: () => ChatAdapter }[] =
    chat.networks.length > 0
      ? chat.networks.map((n) => ({
          name: n.name,
          leaser: options.leaser ?? local,
          make: () => createAdapter(n, { log, mayInvite: (id) => rolesOf(chat.acl, id).length > 0 }),
        }))
      : [
          {
            name: "console",
            leaser: local,
            make: () =>
              new ConsoleAdapter({
                input,
                output: options.output ?? process.stdout,
                interactive: options.interactive ?? Boolean((input as { isTTY?: boolean }).isTTY),
              }),
          },
        ];
  const byNetwork = new Map<string, ChatAdapter>();
  // Every line jarvis says passes the redactor, whatever produced it (replies, progress, errors).
  const redactor = redactorForConfig(jarvis.config);
  const dispatcher = new Dispatcher({
    control: jarvis.control,
    redactor,
    acl: chat.acl,
    limiter: new CommandLimiter(chat.rateLimit.burst, chat.rateLimit.intervalMs, chat.rateLimit.exempt),
    log,
    nodes: jarvis.nodes,
    ...(jarvis.jobs ? { jobs: jarvis.jobs } : {}),
    ...(jarvis.store ? { schedules: jarvis.store, nodeEvents: jarvis.store } : {}),
  });
  // Progress lines: a line the network refused for good is reported and counts as said; a line
  // not sent because the network was left rejects, so the lease's cursor does not pass it.
  const deliver: DeliverLine = async (network, place, line) => {
    const adapter = byNetwork.get(network);
    if (!adapter) throw new ChatError("E_CHAT_CLOSED", `${network}: not spoken for by this replica`);
    await adapter.send(place, redactor.text(line)).catch((err: unknown) => {
      if (err instanceof ChatError && err.code === "E_CHAT_CLOSED") throw err;
      log(`${network}: progress line not sent: ${errorMessage(err)}`);
    });
  };
  // The lease of each network this replica speaks for: it carries the network's follows.
  const leases = new Map<string, ChatLease>();
  // Followed step output is paced and summarised anyway: best effort, never held for a cursor.
  const follower = new StepOutputFollower(
    (network) => followPace(chat, network),
    (network, place, line) =>
      void deliver(network, place, line).catch((err: unknown) => log(`${network}: ${errorMessage(err)}`)),
    (network) => leases.get(network)?.setFollows(follower.followsOf(network)),
  );
  const handler = new CommandHandler(dispatcher, chat, log, redactor, follower);
  // Summaries of held-back output are said when their window closes, even if the step fell silent.
  const summaries = setInterval(() => follower.tick(), 500);
  summaries.unref();
  const holders = networks.map(
    (n) =>
      new NetworkHolder(n.name, {
        leaser: n.leaser,
        log,
        makeAdapter: () => {
          const adapter = n.make();
          // The console's connecting/connected lines would be the first thing a new user reads,
          // and say nothing: a terminal does not connect anywhere.
          if (!(adapter instanceof ConsoleAdapter))
            adapter.states.on((state) => log(describeState(adapter.network, state)));
          adapter.messages.on((message) => void handler.handle(adapter, message));
          return adapter;
        },
        startRelay: (lease) => {
          // Rooms followed what they followed under the previous holder, and go on here.
          for (const f of lease.follows) follower.follow(n.name, f.place, f.target, f.runId);
          leases.set(n.name, lease);
          return new ProgressRelay(jarvis.control, deliver, chat.nick, {
            follower,
            network: n.name,
            afterSeq: lease.cursor,
            cursor: lease,
            log,
          });
        },
        onChange: (network, adapter) => {
          if (adapter) byNetwork.set(network, adapter);
          else {
            byNetwork.delete(network);
            leases.delete(network);
            // Whoever holds the network next carries its follows; none stay behind here.
            follower.forget(network);
          }
          options.onHeld?.([...byNetwork.keys()]);
        },
      }),
  );
  const close = async (): Promise<void> => {
    clearInterval(summaries);
    await Promise.allSettled(holders.map((h) => h.close()));
  };
  const waited = holders.filter((h) => networks.find((n) => n.name === h.network)?.leaser.immediate);
  const results = await Promise.allSettled(waited.map((h) => h.firstAttempt));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) {
    await close();
    throw failed.reason;
  }
  const announce = (room: string, line: string): void => {
    const target = placeOfOrigin(room);
    if (target)
      void deliver(target.network, target.place, line).catch((err: unknown) =>
        log(`${target.network}: announcement not said: ${errorMessage(err)}`),
      );
  };
  return { adapters: byNetwork, announce, close };
}

/** A network's pace for followed output (the console uses the defaults). */
function followPace(chat: ChatConfig, network: string): FollowPace {
  const pace = chat.networks.find((n) => n.name === network)?.pace;
  return { lines: pace?.followLines ?? 5, intervalMs: pace?.followIntervalMs ?? 10_000 };
}

/** Hands each line addressed to jarvis to the dispatcher and renders its reply. */
class CommandHandler {
  private readonly rooms = new Map<string, Set<string>>();

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly chat: ChatConfig,
    private readonly log: (line: string) => void,
    private readonly redactor: Redactor,
    private readonly follower: StepOutputFollower,
  ) {
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
    const { identity, place } = message;
    const reply = await this.dispatcher.dispatch({
      front: "chat",
      caller: {
        identity,
        ...(message.identityProblem ? { identityProblem: message.identityProblem } : {}),
        label: `${message.network}:?${message.displayName}`,
        network: message.network,
        room: place.direct ? `dm:${place.room}` : place.room,
        origin: originOfPlace(message.network, place),
        configuredRoom:
          adapter.network === "console" ||
          (!place.direct && (this.rooms.get(message.network)?.has(place.room.toLowerCase()) ?? false)),
        localOperator: false,
      },
      input: { text: parsed.kind === "command" ? parsed.command.text : parsed.text },
    });
    this.steerFollow(message, reply);
    const { text, pointer } = renderChatReply(reply, {
      botName: this.chat.nick,
      maxLines: this.maxLines(message.network),
    });
    const unpaced = identity !== undefined && this.chat.rateLimit.exempt.has(identity);
    await adapter
      .reply(message, this.redactor.text(text), { unpaced, ...(pointer ? { pointer } : {}) })
      .catch((err: unknown) => this.log(`${message.network}: reply not sent: ${errorMessage(err)}`));
  }

  /** follow/unfollow replies say what this room follows; the follower does the following. */
  private steerFollow(message: IncomingMessage, reply: Reply): void {
    if (reply.kind === "following" && reply.target.kind !== "group")
      this.follower.follow(message.network, message.place, reply.target, reply.run?.id);
    if (reply.kind === "unfollowing" && reply.target?.kind !== "group")
      this.follower.unfollow(message.network, message.place, reply.target);
  }

  private maxLines(network: string): number {
    return this.chat.networks.find((n) => n.name === network)?.pace.maxLines ?? 40;
  }
}
