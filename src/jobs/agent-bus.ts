/**
 * jarvis's side of the NATS layout (see agent/protocol.ts): the two streams, one durable push
 * consumer per node (created before the node's first request, so a request waits for a node that
 * is offline), and publishing signed requests with their id as the JetStream message id, so a
 * request published twice is stored once.
 */
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import type { ConsumerInfo, JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { AGENT_STREAM, REQUEST_STREAM, subjects } from "../agent/protocol.js";
import type { SignedEnvelope } from "../agent/protocol.js";
import { inPool } from "./in-pool.js";

/** Longest a request can wait in the stream, whatever its TTL (jarvis withdraws it at its TTL). */
const REQUEST_MAX_AGE_MS = 7 * 24 * 3600_000;
/** How long agent replies, facts and events wait for jarvis when jarvis is down. */
const AGENT_MAX_AGE_MS = 24 * 3600_000;
/** jarvis's durable consumer on the agents' stream. */
export const JARVIS_CONSUMER = "jarvis";
const CONSUMER_CREATES_IN_FLIGHT = 8;
/** Past this many nodes, one listing of every consumer is cheaper than asking for each. */
const CONSUMER_INFOS_ONE_BY_ONE = 16;

export class AgentBus {
  /** Names of the node consumers nats-server has: listed once at start, then as they are made. */
  private readonly consumers = new Set<string>();
  private readonly creating = new Map<string, Promise<void>>();

  private constructor(
    readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    readonly js: JetStreamClient,
  ) {}

  static async open(nc: NatsConnection): Promise<AgentBus> {
    const jsm = await jetstreamManager(nc);
    const bus = new AgentBus(nc, jsm, jetstream(nc));
    await bus.ensureStream({
      name: REQUEST_STREAM,
      subjects: ["jarvis.req.*"],
      // A request leaves the stream once its node's consumer has it.
      retention: RetentionPolicy.Interest,
      max_age: nanos(REQUEST_MAX_AGE_MS),
      duplicate_window: nanos(120_000),
    });
    await bus.ensureStream({
      name: AGENT_STREAM,
      subjects: ["jarvis.reply.*", "jarvis.facts.*", "jarvis.event.*"],
      retention: RetentionPolicy.Limits,
      max_age: nanos(AGENT_MAX_AGE_MS),
    });
    await jsm.consumers.add(AGENT_STREAM, {
      durable_name: JARVIS_CONSUMER,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      max_ack_pending: 10_000,
    });
    // One listing instead of a creation request per node at its first job after a restart.
    for await (const info of jsm.consumers.list(REQUEST_STREAM)) bus.consumers.add(info.name);
    return bus;
  }

  private async ensureStream(
    config: { name: string; subjects: string[] } & Record<string, unknown>,
  ): Promise<void> {
    try {
      await this.jsm.streams.info(config.name);
      await this.jsm.streams.update(config.name, config);
    } catch (err) {
      if (!(err instanceof Error) || !/stream not found/i.test(err.message)) throw err;
      await this.jsm.streams.add(config);
    }
  }

  /** The node's durable consumer, made once (adding an identical one again is harmless). */
  async ensureNodeConsumer(host: string): Promise<void> {
    await this.ensureNodeConsumers([host]);
  }

  /**
   * The durable consumers of many nodes, a few requests in flight at a time: nats-server handles
   * consumer creation one by one, and a thousand at once make the later ones time out.
   */
  async ensureNodeConsumers(hosts: readonly string[]): Promise<void> {
    const missing = [...new Set(hosts)].filter((h) => !this.hasNodeConsumer(h));
    await inPool(missing, CONSUMER_CREATES_IN_FLIGHT, (host) => this.addNodeConsumer(host));
  }

  hasNodeConsumer(host: string): boolean {
    return this.consumers.has(subjects.consumer(host));
  }

  /** One creation per node at a time, whoever asks (a heartbeat registering it, a job sending to it). */
  private addNodeConsumer(host: string): Promise<void> {
    const name = subjects.consumer(host);
    let adding = this.creating.get(name);
    if (adding === undefined) {
      adding = this.jsm.consumers
        .add(REQUEST_STREAM, {
          durable_name: name,
          deliver_subject: subjects.deliver(host),
          filter_subject: subjects.request(host),
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          ack_wait: nanos(30_000),
          max_ack_pending: 1000,
        })
        .then(() => void this.consumers.add(name))
        .finally(() => this.creating.delete(name));
      this.creating.set(name, adding);
    }
    return adding;
  }

  /** Publish a request; its stream sequence, to withdraw it later. */
  async publishRequest(host: string, requestId: string, envelope: SignedEnvelope): Promise<number> {
    // Interest retention drops a request no consumer is there for: the node's must exist first.
    if (!this.hasNodeConsumer(host)) await this.ensureNodeConsumer(host);
    const ack = await this.js.publish(subjects.request(host), JSON.stringify(envelope), { msgID: requestId });
    return ack.seq;
  }

  /**
   * Of `hosts`, those whose agent is subscribed to its deliveries now: nats-server's view of the
   * agent's connection (a killed agent's socket closes at once), unlike heartbeats, which a busy
   * agent on a loaded host can send late while it is still there and still working.
   */
  async subscribedNodes(hosts: readonly string[]): Promise<Set<string>> {
    const byConsumer = new Map(hosts.map((h) => [subjects.consumer(h), h] as const));
    const bound = new Set<string>();
    const note = (info: ConsumerInfo): void => {
      const host = byConsumer.get(info.name);
      if (host !== undefined && info.push_bound === true) bound.add(host);
    };
    if (byConsumer.size <= CONSUMER_INFOS_ONE_BY_ONE) {
      await Promise.all(
        [...byConsumer.keys()].map(async (name) => {
          try {
            note(await this.jsm.consumers.info(REQUEST_STREAM, name));
          } catch (err) {
            // No consumer: the node never had a request here, so nobody is subscribed to it.
            if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound))
              throw err;
          }
        }),
      );
    } else {
      for await (const info of this.jsm.consumers.list(REQUEST_STREAM)) note(info);
    }
    return bound;
  }

  /** Take a request back out of the stream (cancelled or expired before its node took it). */
  async withdraw(seq: number): Promise<void> {
    try {
      await this.jsm.streams.deleteMessage(REQUEST_STREAM, seq, false);
    } catch (err) {
      // Already delivered and acknowledged (interest retention removed it): nothing to withdraw.
      if (!(err instanceof Error) || !/no message found|not found/i.test(err.message)) throw err;
    }
  }
}
