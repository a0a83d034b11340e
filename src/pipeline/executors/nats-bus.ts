/**
 * One connection to the NATS bus that carries steps, with the JetStream parts both sides use: the
 * work-queue stream, the attempt bucket and the clipboard object store, made when missing (nats-
 * server 2.9 keeps them across restarts). The connection reconnects for ever: a nats-server restart
 * pauses the steps in flight instead of failing them.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { connect, errors } from "@nats-io/transport-node";
import {
  AckPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import { nanos } from "@nats-io/nats-core";
import type { NatsConnection } from "@nats-io/nats-core";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { ObjectStore } from "@nats-io/obj";
import { BusError, errorMessage } from "../../errors.js";
import { natsCredentials } from "../../cluster/nats-endpoint.js";
import { natsConnectProblem } from "../../nodes/nats-problem.js";
import type { NatsEndpoint } from "../../cluster/nats-endpoint.js";
import {
  ATTEMPT_BUCKET,
  BUS_RECORD_TTL_MS,
  CLIPBOARD_BUCKET,
  STEP_STREAM,
  consumerName,
  subjects,
} from "./nats-wire.js";

/** An open bus. */
export interface Bus {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  attempts: KV;
  clipboards: ObjectStore;
  /** Largest message the server takes (its max_payload). */
  maxPayload: number;
  close(): Promise<void>;
}

/**
 * Connect to `url` and make sure the stream and buckets exist. `name` shows in nats-server's connz;
 * `log` is told once when the server refuses connections and jarvis waits for it.
 */
export async function openBus(
  endpoint: NatsEndpoint,
  name: string,
  log: (line: string) => void,
): Promise<Bus> {
  const { url } = endpoint;
  // The server may be restarting right now: refusing connections, or gone mid-setup. Connecting and
  // the (idempotent) setup are tried again within SETUP_BUDGET_MS, so a run that starts meanwhile
  // waits for the server as the runs already under way do.
  const deadline = Date.now() + SETUP_BUDGET_MS;
  const nc = await connectWithin(endpoint, name, deadline, log);
  for (;;) {
    try {
      return await setUp(nc);
    } catch (err) {
      if (Date.now() < deadline && !nc.isClosed()) {
        await sleep(SETUP_RETRY_MS);
        continue;
      }
      await nc.close();
      throw new BusError(
        "E_BUS_SETUP",
        `nats-server at ${url} refused the JetStream setup jarvis needs (${errorMessage(err)}); is JetStream enabled (jetstream {} in its config)?`,
        { cause: err, retryable: true },
      );
    }
  }
}

/** A connection to `url`, tried again while the server is away until `deadline`; other errors (auth) fail at once. */
async function connectWithin(
  endpoint: NatsEndpoint,
  name: string,
  deadline: number,
  log: (line: string) => void,
): Promise<NatsConnection> {
  const { url } = endpoint;
  const credentials = natsCredentials(endpoint);
  for (let tries = 0; ; tries++) {
    try {
      // noAsyncTraces: no Error (with its stack) made for every request; each step makes several.
      return await connect({
        servers: url,
        name,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        noAsyncTraces: true,
        ...credentials,
      });
    } catch (err) {
      // Refused, or accepted by a server going down that never answered: both pass once it is back.
      const away = err instanceof errors.ConnectionError || err instanceof errors.TimeoutError;
      if (away && Date.now() < deadline) {
        if (tries === 0)
          log(
            `nats-server at ${url} does not answer (${errorMessage(err)}); waiting up to ${SETUP_BUDGET_MS / 1000} s for it`,
          );
        await sleep(SETUP_RETRY_MS);
        continue;
      }
      if (err instanceof errors.AuthorizationError)
        throw new BusError(
          "E_BUS_REFUSED",
          endpoint.nkeySeedFile === undefined
            ? `nats-server at ${url} wants credentials (${err.message}); set executor.nats.nkey_seed_file (or user:password in the URL)`
            : `nats-server at ${url} refused the NKEY of ${endpoint.nkeySeedFile} (${err.message}); its public key must be a user in nats-server's authorization`,
          { cause: err },
        );
      throw new BusError(
        "E_BUS_CONNECT",
        `cannot reach nats-server at ${url} (${natsConnectProblem(err, endpoint.tls?.ca)}); check executor.nats (url, nkey_seed_file, tls) or --nats, and that nats-server runs with JetStream`,
        { cause: err, retryable: true },
      );
    }
  }
}

/** How long connecting, the stream and the buckets are tried while nats-server is away, and how often. */
const SETUP_BUDGET_MS = 60_000;
const SETUP_RETRY_MS = 500;

/** Make sure the stream and buckets exist (each call is idempotent). */
async function setUp(nc: NatsConnection): Promise<Bus> {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({
    name: STEP_STREAM,
    subjects: [subjects.allSteps],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
  });
  const js = jetstream(nc);
  const attempts = await new Kvm(js).create(ATTEMPT_BUCKET, { history: 1, ttl: BUS_RECORD_TTL_MS });
  const clipboards = await new Objm(js).create(CLIPBOARD_BUCKET, { ttl: nanos(BUS_RECORD_TTL_MS) });
  return {
    nc,
    js,
    jsm,
    attempts,
    clipboards,
    maxPayload: nc.info?.max_payload ?? 1024 * 1024,
    close: () => closeConnection(nc),
  };
}

/**
 * The durable consumer serving requests for workers with all of `tags`, made when missing.
 * `ackWaitMs` applies when this call makes it: the first worker of a tag set decides.
 */
export async function ensureConsumer(bus: Bus, tags: readonly string[], ackWaitMs: number): Promise<string> {
  const name = consumerName(tags);
  const existing = await bus.jsm.consumers.info(STEP_STREAM, name).catch((err: unknown) => {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound) return undefined;
    throw err;
  });
  if (!existing) {
    await bus.jsm.consumers.add(STEP_STREAM, {
      durable_name: name,
      filter_subject: subjects.steps(tags),
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(ackWaitMs),
      max_deliver: -1,
    });
  }
  return name;
}

/** How long a closing worker or service waits for in-flight messages to drain. */
const DRAIN_BUDGET_MS = 5_000;

/**
 * Drain the connection (what is in flight is delivered first) while the server answers. With the
 * server gone, nats.js's drain() waits for it forever, so a SIGTERM would never end the process:
 * the drain is bounded, then the connection is closed without it.
 */
async function closeConnection(nc: NatsConnection): Promise<void> {
  if (nc.isClosed()) return;
  const budget = new AbortController();
  const drained = nc.drain().then(
    () => true,
    () => false,
  );
  const expired = sleep(DRAIN_BUDGET_MS, false, { signal: budget.signal }).catch(() => false);
  const done = await Promise.race([drained, expired]);
  budget.abort();
  if (!done) await nc.close();
}
