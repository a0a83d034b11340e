/**
 * jarvis's reader of the agents' events: its own durable consumer on the agents' stream, filtered
 * to `jarvis.event.*`, so events wait in the stream while jarvis is down and several services
 * share them (each event goes to one). An event is believed only for the node of its subject
 * (NATS permissions let an agent publish only on its own); one whose payload names another node
 * is refused. Each is kept once under its id, and only a newly kept one goes to the rules, so a
 * redelivery after a restart fires nothing.
 */
import { AckPolicy, DeliverPolicy, jetstreamManager } from "@nats-io/jetstream";
import type { ConsumerMessages } from "@nats-io/jetstream";
import { AGENT_STREAM, AgentEvent, nodeOfSubject } from "../agent/protocol.js";
import type { AgentBus } from "../jobs/agent-bus.js";
import type { NodeEventStore } from "../store/node-event-store.js";
import { errorMessage } from "../errors.js";
import type { RuleFirer } from "./rule-firer.js";

/** The services' shared durable consumer of events. */
export const EVENTS_CONSUMER = "jarvis_events";

export interface EventIntakeOptions {
  bus: AgentBus;
  store: NodeEventStore;
  firer: RuleFirer;
  log: (line: string) => void;
}

export class EventIntake {
  private messages: ConsumerMessages | undefined;
  private done: Promise<void> | undefined;

  constructor(private readonly o: EventIntakeOptions) {}

  async start(): Promise<void> {
    const jsm = await jetstreamManager(this.o.bus.nc);
    await jsm.consumers.add(AGENT_STREAM, {
      durable_name: EVENTS_CONSUMER,
      filter_subject: "jarvis.event.*",
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      max_ack_pending: 1000,
    });
    const consumer = await this.o.bus.js.consumers.get(AGENT_STREAM, EVENTS_CONSUMER);
    const messages = await consumer.consume({ max_messages: 500 });
    this.messages = messages;
    this.done = (async () => {
      for await (const m of messages) {
        try {
          await this.take(m.subject, m.data);
          m.ack();
        } catch (err) {
          // The store failed: leave the event unacknowledged, so the stream delivers it again.
          this.o.log(`event on ${m.subject}: ${errorMessage(err)}; it will be delivered again`);
          m.nak(5000);
        }
      }
    })();
  }

  async stop(): Promise<void> {
    await this.messages?.close();
    await this.done;
  }

  private async take(subject: string, data: Uint8Array): Promise<void> {
    const host = nodeOfSubject(subject);
    const parsed = AgentEvent.safeParse(parseJson(data));
    if (!host || !parsed.success) return this.o.log(`ignored a malformed event on ${subject}`);
    const event = parsed.data;
    if (event.node !== host) {
      return this.o.log(`refused an event on ${subject} that says it is from ${event.node.slice(0, 64)}`);
    }
    const kept = await this.o.store.recordNodeEvent({
      id: event.id,
      host,
      kind: event.kind,
      at: event.at,
      data: event.data,
    });
    if (kept)
      await this.o.firer.consider({ id: event.id, host, kind: event.kind, at: event.at, data: event.data });
  }
}

function parseJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(data));
  } catch {
    return undefined;
  }
}
