/**
 * `jarvis worker`: takes step requests from the work queue (the untagged ones and those for any
 * subset of its tags) and runs each with the local fork executor, exactly as `jarvis start` would
 * here: its program, module defaults and secrets come from this machine's jarvis.yml and
 * environment, never from the bus. While a step runs the worker tells JetStream it is still
 * working; if it dies, the request is redelivered after the consumer's ack wait to another worker.
 */
import { hostname } from "node:os";
import { setImmediate, setTimeout as sleep } from "node:timers/promises";
import { BusError, errorMessage } from "../../errors.js";
import { ensureConsumer, openBus } from "./nats-bus.js";
import { claimAttempt, finishAttempt } from "./nats-attempts.js";
import { dropWireClipboard } from "./nats-clipboard.js";
import { cancelledOutcome, report, runDelivery } from "./nats-delivery.js";
import { STEP_STREAM, TAG_PATTERN, decode, encode, subjects, wireRequest } from "./nats-wire.js";
import { createLocalForkExecutor } from "./local-fork.js";
import { MEMBER_HEARTBEAT_MS, memberKey, openClusterBuckets } from "../../cluster/cluster-buckets.js";
import type { JsMsg } from "@nats-io/jetstream";
import type { Claim } from "./nats-attempts.js";
import type { DeliveryContext } from "./nats-delivery.js";
import type { NatsEndpoint } from "../../cluster/nats-endpoint.js";
import type { WireHeartbeat, WireRequest } from "./nats-wire.js";
import type { JarvisConfig } from "../../config.js";
import type { StepResolver } from "../step-catalog.js";

/** Most tags one worker may have: it serves every subset of them (2^n consumers). */
export const MAX_WORKER_TAGS = 4;
/** How often a worker says it is alive (its heartbeat subject and member entry). */
const HEARTBEAT_MS = MEMBER_HEARTBEAT_MS;
/** How long one pull waits for a request before asking again. */
const PULL_EXPIRES_MS = 5000;

/** Options of a worker. */
export interface WorkerOptions {
  bus: NatsEndpoint;
  tags: string[];
  config: JarvisConfig;
  resolver: StepResolver;
  /** Steps run at once. */
  concurrency: number;
  /** Ack wait of the consumers this worker makes (the first worker of a tag set decides). */
  ackWaitMs: number;
  log: (line: string) => void;
}

/** A running worker. */
export interface Worker {
  id: string;
  /** Stop taking requests; steps in flight are stopped and handed back to the queue at once. */
  close(): Promise<void>;
}

/** Every subset of `tags`, the empty one first. */
export function tagSubsets(tags: readonly string[]): string[][] {
  return tags.reduce<string[][]>((sets, tag) => [...sets, ...sets.map((s) => [...s, tag])], [[]]);
}

/** Connect and start taking requests. */
export async function startWorker(options: WorkerOptions): Promise<Worker> {
  const { tags, log } = options;
  for (const tag of tags)
    if (!TAG_PATTERN.test(tag))
      throw new BusError(
        "E_WORKER_TAG",
        `worker tag '${tag}' is not lowercase letters, digits and '-' (at most 32)`,
      );
  if (tags.length > MAX_WORKER_TAGS)
    throw new BusError(
      "E_WORKER_TAG",
      `a worker may have at most ${MAX_WORKER_TAGS} tags, got ${tags.length}`,
    );
  const id = `${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9_-]/g, "_");
  const bus = await openBus(options.bus, `jarvis worker ${id}`, log);
  const closing = new AbortController();
  const step: DeliveryContext = {
    bus,
    local: createLocalForkExecutor(options.config, options.resolver),
    worker: id,
    keepAliveMs: Math.max(200, options.ackWaitMs / 3),
    closing: closing.signal,
    log,
  };
  const inFlight = new Set<Promise<void>>();
  let waiters: (() => void)[] = [];
  const slotFreed = (): void => {
    const waking = waiters;
    waiters = [];
    for (const wake of waking) wake();
  };
  const freeSlot = async (): Promise<void> => {
    while (inFlight.size >= options.concurrency && !closing.signal.aborted)
      await new Promise<void>((resolve) => waiters.push(resolve));
  };

  // The member entry is what `status --cluster` and /health read; a dead worker's expires.
  const members = await untilBusAnswers("opening the cluster buckets", log, closing.signal, () =>
    openClusterBuckets(bus.js),
  ).catch(async (err: unknown) => {
    await bus.close();
    throw err;
  });
  let heartbeatFailing = false;
  const beat = (): void => {
    const beat: WireHeartbeat = { worker: id, tags, inFlight: inFlight.size, at: Date.now() };
    bus.nc.publish(subjects.heartbeat(id), encode(beat));
    members.members.put(memberKey("workers", id), encode(beat)).then(
      () => void (heartbeatFailing = false),
      (err: unknown) => {
        if (!heartbeatFailing) log(`heartbeat not recorded (${errorMessage(err)}); trying again`);
        heartbeatFailing = true;
      },
    );
  };
  beat();
  const heartbeat = setInterval(beat, HEARTBEAT_MS);

  const pull = async (set: string[]): Promise<void> => {
    const name = await untilBusAnswers(
      `making the consumer for tags [${set.join(", ")}]`,
      log,
      closing.signal,
      () => ensureConsumer(bus, set, options.ackWaitMs),
    );
    const consumer = await untilBusAnswers(`opening consumer ${name}`, log, closing.signal, () =>
      bus.js.consumers.get(STEP_STREAM, name),
    );
    while (!closing.signal.aborted) {
      await freeSlot();
      if (closing.signal.aborted) return;
      try {
        // As many as there are free slots in one pull: under load one request per pull is the bottleneck.
        const batch = await consumer.fetch({
          max_messages: options.concurrency - inFlight.size,
          expires: PULL_EXPIRES_MS,
        });
        for await (const msg of batch) take(msg);
      } catch (err) {
        if (closing.signal.aborted) return;
        log(`pulling from ${name} failed (${errorMessage(err)}); trying again in 1 s`);
        await sleep(1000);
      }
    }
  };

  const take = (msg: JsMsg): void => {
    // Another tag set's pull filled the last slot meanwhile: hand this one straight back.
    if (inFlight.size >= options.concurrency || closing.signal.aborted) {
      msg.nak();
      return;
    }
    const handled = handle(msg)
      // Not acknowledged: JetStream gives the request to a worker again after the ack wait.
      .catch((err: unknown) =>
        log(`a request on ${msg.subject} was left to another worker: ${errorMessage(err)}`),
      )
      .finally(() => {
        inFlight.delete(handled);
        slotFreed();
      });
    inFlight.add(handled);
  };

  const handle = async (msg: JsMsg): Promise<void> => {
    const delivery = msg.info.deliveryCount;
    const decoded = decode(wireRequest, msg.data);
    if (!decoded.ok) {
      log(`dropped a message on ${msg.subject} that is not a step request: ${decoded.why}`);
      msg.term();
      return;
    }
    const request = decoded.value;
    const what = `${request.step} (run ${request.runId}, attempt ${request.attempt}, delivery ${delivery})`;
    const claiming = untilBusAnswers(`claiming ${what}`, log, closing.signal, () =>
      claimAttempt(bus.attempts, request.id, delivery, id),
    );
    if (delivery > 1) {
      // A redelivery is the one that may lose its claim: claimed before its step starts.
      const claim = await claiming;
      if (claim.kind !== "claimed") return unclaimed(msg, request, delivery, what, claim);
    } else {
      // A first delivery is nearly always claimed: its step is spawned while the claim is on the way
      // (spawn() blocks for milliseconds) and gets its input only once the claim holds. One turn
      // first, so the claim has left before spawn() blocks this process.
      await setImmediate();
    }
    log(`running ${what}`);
    const { outcome: result, lines } = await runDelivery(step, msg, request, delivery, claiming);
    const claim = await claiming;
    if (claim.kind !== "claimed") return unclaimed(msg, request, delivery, what, claim);
    if (result === "handed-back") {
      msg.nak();
      return;
    }
    if (result.kind === "cancelled") {
      // The executor marked the record cancelled itself; no claim to check.
      report(bus, {
        id: request.id,
        delivery,
        worker: id,
        attempt: request.attempt,
        type: "outcome",
        outcome: result,
      });
      msg.ack();
      return;
    }
    const accepted = await untilBusAnswers(`recording the outcome of ${what}`, log, closing.signal, () =>
      finishAttempt(bus.attempts, request.id, claim.revision, {
        delivery,
        worker: id,
        outcome: result,
        lines,
      }),
    );
    if (!accepted) {
      // A newer delivery holds the request (this worker was presumed dead): its result stands.
      log(`${what}: result refused, a newer delivery took the step over while this one ran`);
      if (result.kind === "ok") await dropWireClipboard(bus, result.clipboard);
      return; // no ack: the newer delivery acknowledges the message
    }
    msg.ack();
    log(`finished ${what}: ${result.kind}`);
  };

  /** A delivery this worker may not run: superseded, or finished or cancelled already. */
  const unclaimed = (
    msg: JsMsg,
    request: WireRequest,
    delivery: number,
    what: string,
    claim: Exclude<Claim, { kind: "claimed" }>,
  ): void => {
    if (claim.kind === "superseded") {
      log(`${what}: delivery ${claim.delivery} holds it already; leaving it`);
      return;
    }
    // Finished or cancelled before this delivery: say so again (the first word may be lost), drop it.
    const outcome = claim.kind === "done" ? claim.record.outcome : cancelledOutcome;
    report(bus, { id: request.id, delivery, worker: id, attempt: request.attempt, type: "outcome", outcome });
    msg.ack();
  };

  const pulls = tagSubsets([...tags].sort()).map((set) =>
    pull(set).catch((err: unknown) => {
      if (!closing.signal.aborted)
        log(`taking requests for tags [${set.join(", ")}] stopped: ${errorMessage(err)}`);
    }),
  );
  log(`worker ${id} takes requests for tags [${tags.join(", ")}] from ${options.bus.url}`);
  return {
    id,
    async close() {
      closing.abort();
      slotFreed();
      clearInterval(heartbeat);
      await Promise.allSettled([...pulls, ...inFlight]);
      await members.members.delete(memberKey("workers", id)).catch((err: unknown) => {
        log(`member entry not removed (${errorMessage(err)}); it expires by itself`);
      });
      await bus.close();
    },
  };
}

/** Retry `fn` while nats-server is away (a restart): a step's outcome must not be dropped. */
async function untilBusAnswers<T>(
  what: string,
  log: (line: string) => void,
  closing: AbortSignal,
  fn: () => Promise<T>,
): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await fn();
    } catch (err) {
      if (closing.aborted)
        throw new BusError("E_WORKER_CLOSING", `${what} stopped: the worker is closing`, { cause: err });
      if (tries === 1) log(`${what} failed (${errorMessage(err)}); trying again until nats-server answers`);
    }
    try {
      await sleep(500, undefined, { signal: closing });
    } catch (err) {
      throw new BusError("E_WORKER_CLOSING", `${what} stopped: the worker is closing`, { cause: err });
    }
  }
}
