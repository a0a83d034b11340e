/**
 * Everything the agents send jarvis, read off the bus and handed on a tick at a time: heartbeats
 * (core NATS) and the replies and facts of the agents' stream (jarvis's durable consumer). A
 * fan-out's thousands of replies become one store transaction and one batch of JetStream ACKs per
 * tick; a stream message is acknowledged only once its handler has stored what it said, so one
 * that jarvis did not get to store is delivered again.
 *
 * Every replica listens to heartbeats, in one queue group: each beat is recorded once, by one of
 * them, also while no replica drives the jobs. Only the replica driving the jobs reads the stream,
 * so every reply reaches the one process that holds its job.
 */
import type { ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import type { Msg, Subscription } from "@nats-io/transport-node";
import { AGENT_STREAM, AgentReply, FactsMessage, Heartbeat, nodeOfSubject } from "../agent/protocol.js";
import type { AgentBus } from "./agent-bus.js";
import { JARVIS_CONSUMER } from "./agent-bus.js";
import { TickBatch } from "./tick-batch.js";

export interface AgentInboxHandlers {
  heartbeats(beats: { host: string; beat: Heartbeat }[]): Promise<void>;
  facts(host: string, facts: FactsMessage): Promise<void>;
  /** In the order the stream had them; resolves once they are stored. */
  replies(replies: { host: string; reply: AgentReply }[]): Promise<void>;
}

/** Replies jarvis's consumer may hold unacknowledged (a tick's worth of a large fan-out). */
const REPLIES_IN_FLIGHT = 2000;
/** The replicas' queue group for heartbeats. */
const HEARTBEAT_QUEUE = "jarvis";

export class AgentInbox {
  private heartbeatSub: Subscription | undefined;
  private messages: ConsumerMessages | undefined;
  private readonly heartbeatBatch: TickBatch<Msg>;
  private readonly messageBatch: TickBatch<JsMsg>;
  private readonly decoder = new TextDecoder();

  constructor(
    private readonly bus: AgentBus,
    private readonly handlers: AgentInboxHandlers,
    private readonly log: (line: string) => void,
  ) {
    this.heartbeatBatch = new TickBatch(
      (msgs) => this.heartbeats(msgs),
      (err) => log(`heartbeats: ${(err as Error).message}`),
    );
    // Not acknowledged when storing failed: the stream delivers them again after its ack wait.
    this.messageBatch = new TickBatch(
      (msgs) => this.streamMessages(msgs),
      (err) => log(`agent replies not stored, to be delivered again: ${(err as Error).message}`),
    );
  }

  listenHeartbeats(): void {
    this.heartbeatSub = this.bus.nc.subscribe("jarvis.hb.*", {
      queue: HEARTBEAT_QUEUE,
      callback: (err, msg) => (err ? this.log(`heartbeats: ${err.message}`) : this.heartbeatBatch.push(msg)),
    });
  }

  /** Read the agents' stream (the replica driving the jobs). */
  async readStream(): Promise<void> {
    const consumer = await this.bus.js.consumers.get(AGENT_STREAM, JARVIS_CONSUMER);
    this.messages = await consumer.consume({
      max_messages: REPLIES_IN_FLIGHT,
      callback: (m) => this.messageBatch.push(m),
    });
  }

  /**
   * Stop reading the stream; what was read is handled first. Messages fetched and not yet
   * acknowledged go to the next reader after the consumer's ack wait.
   */
  async stopStream(): Promise<void> {
    const messages = this.messages;
    this.messages = undefined;
    await messages?.close();
    await this.messageBatch.drained();
  }

  async stop(): Promise<void> {
    this.heartbeatSub?.unsubscribe();
    await this.stopStream();
    await this.heartbeatBatch.drained();
  }

  private async heartbeats(msgs: Msg[]): Promise<void> {
    const beats: { host: string; beat: Heartbeat }[] = [];
    for (const msg of msgs) {
      const host = nodeOfSubject(msg.subject);
      const beat = Heartbeat.safeParse(this.json(msg.data));
      if (host && beat.success) beats.push({ host, beat: beat.data });
      else this.log(`ignored a malformed heartbeat on ${msg.subject}`);
    }
    await this.handlers.heartbeats(beats);
  }

  private async streamMessages(msgs: JsMsg[]): Promise<void> {
    const replies: { host: string; reply: AgentReply }[] = [];
    for (const m of msgs) {
      const host = nodeOfSubject(m.subject);
      const kind = m.subject.split(".")[1];
      if (!host) continue;
      if (kind === "facts") {
        const facts = FactsMessage.safeParse(this.json(m.data));
        if (facts.success) await this.handlers.facts(host, facts.data);
        else this.log(`ignored malformed facts from ${host}`);
      } else if (kind === "reply") {
        const reply = AgentReply.safeParse(this.json(m.data));
        if (reply.success) replies.push({ host, reply: reply.data });
        else this.log(`ignored a malformed reply from ${host}`);
      }
      // Events have their own reader (src/events); this consumer only passes them by.
    }
    await this.handlers.replies(replies);
    for (const m of msgs) m.ack();
  }

  private json(data: Uint8Array): unknown {
    try {
      return JSON.parse(this.decoder.decode(data));
    } catch {
      return undefined;
    }
  }
}
