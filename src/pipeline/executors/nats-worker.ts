/**
 * `jarvis worker`: takes step requests from the work queue (the untagged ones and those for any
 * subset of its tags) and runs each with the local fork executor, exactly as `jarvis start` would
 * here: its program, module defaults and secrets come from this machine's jarvis.yml and
 * environment, never from the bus. While a step runs the worker tells JetStream it is still
 * working; if it dies, the request is redelivered after the consumer's ack wait to another worker.
 */
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { BusError, errorCode, errorMessage } from "../../errors.js";
import { ensureConsumer, openBus } from "./nats-bus.js";
import { claimAttempt, finishAttempt, readAttempt } from "./nats-attempts.js";
import { clipboardFromWire, clipboardToWire, dropWireClipboard } from "./nats-clipboard.js";
import { STEP_STREAM, TAG_PATTERN, decode, encode, subjects, wireRequest } from "./nats-wire.js";
import { createLocalForkExecutor } from "./local-fork.js";
import { MEMBER_HEARTBEAT_MS, memberKey, openClusterBuckets } from "../../cluster/cluster-buckets.js";
import type { JsMsg } from "@nats-io/jetstream";
import type { Bus } from "./nats-bus.js";
import type { WireHeartbeat, WireOutcome, WireReport, WireRequest } from "./nats-wire.js";
import type { JarvisConfig } from "../../config.js";
import type { StepResolver } from "../step-catalog.js";
import type { StepOutcome } from "../../protocol.js";

/** Most tags one worker may have: it serves every subset of them (2^n consumers). */
export const MAX_WORKER_TAGS = 4;
/** How often a worker says it is alive (its heartbeat subject and member entry). */
const HEARTBEAT_MS = MEMBER_HEARTBEAT_MS;
/** How long one pull waits for a request before asking again. */
const PULL_EXPIRES_MS = 5000;

/** Options of a worker. */
export interface WorkerOptions {
  url: string;
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
  const bus = await openBus(options.url, `jarvis worker ${id}`, log);
  const local = createLocalForkExecutor(options.config, options.resolver);
  const closing = new AbortController();
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
    const claim = await untilBusAnswers(`claiming ${what}`, log, closing.signal, () =>
      claimAttempt(bus.attempts, request.id, delivery, id),
    );
    if (claim.kind === "superseded") {
      log(`${what}: delivery ${claim.delivery} holds it already; leaving it`);
      return;
    }
    if (claim.kind !== "claimed") {
      // Finished or cancelled before this delivery: say so again (the first word may be lost), drop it.
      const outcome = claim.kind === "done" ? claim.record.outcome : cancelledOutcome;
      report(bus, {
        id: request.id,
        delivery,
        worker: id,
        attempt: request.attempt,
        type: "outcome",
        outcome,
      });
      msg.ack();
      return;
    }
    log(`running ${what}`);
    const result = await runClaimed(msg, request, delivery);
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
      finishAttempt(bus.attempts, request.id, claim.revision, { delivery, worker: id, outcome: result }),
    );
    if (!accepted) {
      // A newer delivery holds the request (this worker was presumed dead): its result stands.
      log(`${what}: result refused, a newer delivery took the step over while this one ran`);
      if (result.kind === "ok") await dropWireClipboard(bus, result.clipboard);
      return; // no ack: the newer delivery acknowledges the message
    }
    report(bus, {
      id: request.id,
      delivery,
      worker: id,
      attempt: request.attempt,
      type: "outcome",
      outcome: result,
    });
    msg.ack();
    log(`finished ${what}: ${result.kind}`);
  };

  /** Run the step of a claimed delivery: its outcome on the wire, or handed back on shutdown. */
  const runClaimed = async (
    msg: JsMsg,
    request: WireRequest,
    delivery: number,
  ): Promise<WireOutcome | "handed-back"> => {
    const stop = new AbortController();
    const onClose = (): void => stop.abort("shutdown");
    closing.signal.addEventListener("abort", onClose, { once: true });
    const cancelSub = bus.nc.subscribe(subjects.cancel(request.id), {
      max: 1,
      callback: () => stop.abort("cancelled"),
    });
    // Keep the message ours, and notice a cancel whose live message was lost.
    const keepAlive = setInterval(
      () => {
        msg.working();
        readAttempt(bus.attempts, request.id).then(
          (current) => current?.record.state === "cancelled" && stop.abort("cancelled"),
          (err: unknown) => log(`reading the attempt record of ${request.id} failed (${errorMessage(err)})`),
        );
      },
      Math.max(200, options.ackWaitMs / 3),
    );
    const sender = { id: request.id, delivery, worker: id, attempt: request.attempt };
    try {
      const clipboardYaml = await clipboardFromWire(bus, request.clipboard, `request ${request.id}`);
      let outcome: StepOutcome | undefined;
      const stepRequest = { ...request, clipboardYaml };
      for await (const r of local.run(stepRequest, stop.signal)) {
        if (r.type === "spawned") report(bus, { ...sender, type: "spawned", pid: r.pid });
        else if (r.type === "log") report(bus, { ...sender, type: "log", line: r.line });
        else outcome = r.outcome;
      }
      if (stop.signal.reason === "shutdown") return "handed-back";
      if (!outcome)
        return failedOutcome(new BusError("E_WORKER_NO_OUTCOME", "the step ended without an outcome"));
      if (outcome.kind !== "ok") return outcome;
      return {
        kind: "ok",
        durationMs: outcome.durationMs,
        ...(outcome.clipboardYaml === undefined
          ? {}
          : {
              clipboard: await clipboardToWire(bus, `out-${request.id}-${delivery}`, outcome.clipboardYaml),
            }),
      };
    } catch (err) {
      return failedOutcome(err);
    } finally {
      clearInterval(keepAlive);
      cancelSub.unsubscribe();
      closing.signal.removeEventListener("abort", onClose);
    }
  };

  const pulls = tagSubsets([...tags].sort()).map((set) =>
    pull(set).catch((err: unknown) => {
      if (!closing.signal.aborted)
        log(`taking requests for tags [${set.join(", ")}] stopped: ${errorMessage(err)}`);
    }),
  );
  log(`worker ${id} takes requests for tags [${tags.join(", ")}] from ${options.url}`);
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

const cancelledOutcome: WireOutcome = { kind: "cancelled", durationMs: 0 };

function failedOutcome(err: unknown): WireOutcome {
  return {
    kind: "failed",
    error: { name: "BusError", code: errorCode(err), message: errorMessage(err), retryable: true },
    durationMs: 0,
  };
}

function report(bus: Bus, message: WireReport): void {
  bus.nc.publish(subjects.reports(message.id), encode(message));
}
