/**
 * The NATS executor: each attempt is a message on the JetStream work queue (one subject per set of
 * worker tags), taken by a `jarvis worker` that runs it with the local fork there. Reports come
 * back live on a subject of the request; the outcome is in the attempt record (KV), seen by the
 * executor's watch of the bucket as soon as it is stored and also read every POLL_MS, so one lost
 * while nats-server restarted is still found. Reports from a delivery older than one already seen
 * (a worker presumed dead, then back) are dropped.
 */
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { BusError, errorCode, errorMessage } from "../../errors.js";
import { openBus } from "./nats-bus.js";
import { watchAttempts } from "./nats-attempt-watch.js";
import { cancelAttempt, readAttempt } from "./nats-attempts.js";
import { clipboardFromWire, clipboardToWire, dropWireClipboard } from "./nats-clipboard.js";
import { decode, subjects, wireReport } from "./nats-wire.js";
import type { Bus } from "./nats-bus.js";
import type { NatsEndpoint } from "../../cluster/nats-endpoint.js";
import type { AttemptWatch, DoneRecord } from "./nats-attempt-watch.js";
import type { WireClipboard, WireOutcome, WireReport, WireRequest } from "./nats-wire.js";
import type { StepOutcome, StepReport, StepRequest } from "../../protocol.js";
import type { StepExecutor } from "./step-executor.js";

/** How often the executor reads the attempt record while it waits. */
const POLL_MS = 2000;
/** How long a cancelled attempt waits for its worker to say the step is stopped. */
const CANCEL_GRACE_MS = 15_000;
/** Wait between tries to put a request on the queue while nats-server is away. */
const REPUBLISH_MS = 500;

/** Options of the NATS executor. */
export interface NatsExecutorOptions {
  bus: NatsEndpoint;
  /** Where trouble that does not fail a step goes (a stored clipboard not deleted); stderr by default. */
  log?: (line: string) => void;
}

/** A StepExecutor that also holds a connection to close. */
export interface ClosableExecutor extends StepExecutor {
  close(): Promise<void>;
}

type Item =
  | { kind: "report"; report: WireReport }
  | { kind: "outcome"; outcome: WireOutcome; delivery: number }
  /** The finished record, from the watch: handed on once the lines it counts are in. */
  | { kind: "done"; record: DoneRecord }
  /** A worker's claim, from the watch: that delivery holds the request now. */
  | { kind: "claimed"; delivery: number }
  | { kind: "gave-up" };

/** The connection and the watch of the attempt bucket on it. */
interface Connected {
  b: Bus;
  watch: AttemptWatch;
}

/** A StepExecutor that hands each attempt to a worker over NATS. */
export function createNatsExecutor(options: NatsExecutorOptions): ClosableExecutor {
  const log = options.log ?? ((line: string) => console.error(`jarvis: ${line}`));
  let opening: Promise<Connected> | undefined;
  const bus = (): Promise<Connected> => {
    opening ??= openBus(options.bus, "jarvis executor", log).then(
      (b) => ({ b, watch: watchAttempts(b.attempts, log) }),
      (err: unknown) => {
        opening = undefined;
        throw err;
      },
    );
    return opening;
  };

  async function* run(request: StepRequest, signal: AbortSignal): AsyncGenerator<StepReport> {
    const { attempt } = request;
    const failed = (err: unknown): StepReport => ({
      type: "outcome",
      attempt,
      outcome: {
        kind: "failed",
        error: { name: "BusError", code: errorCode(err), message: errorMessage(err), retryable: true },
        durationMs: 0,
      },
    });
    let b: Bus;
    let watch: AttemptWatch;
    try {
      ({ b, watch } = await bus());
    } catch (err) {
      yield failed(err);
      return;
    }
    const id = randomUUID().replaceAll("-", "");
    const queue: Item[] = [];
    let wake: (() => void) | undefined;
    const push = (item: Item): void => {
      queue.push(item);
      wake?.();
    };
    const sub = b.nc.subscribe(subjects.reports(id), {
      callback: (err, msg) => {
        if (err) return;
        const decoded = decode(wireReport, msg.data);
        if (decoded.ok) push({ kind: "report", report: decoded.value });
        else log(`dropped a report for request ${id} that is not one: ${decoded.why}`);
      },
    });
    const unwatch = watch.onRecord(id, (record) => {
      if (record.state === "done") push({ kind: "done", record });
      else if (record.state === "running") push({ kind: "claimed", delivery: record.delivery });
    });
    const stop = new AbortController();
    let input: WireClipboard | undefined;
    let output: WireClipboard | undefined;
    let removeAbort = (): void => undefined;
    try {
      input = await clipboardToWire(b, `in-${id}`, request.clipboardYaml);
      const wire: WireRequest = {
        id,
        runId: request.runId,
        step: request.step,
        params: request.params,
        clipboard: input,
        attempt,
        timeoutMs: request.timeoutMs,
        forced: request.forced,
        runsOn: request.runsOn ?? [],
        ...(request.plan ? { plan: true } : {}),
      };
      if (!(await publishRequest(b, wire, signal, log))) {
        yield { type: "outcome", attempt, outcome: { kind: "cancelled", durationMs: 0 } };
        return;
      }
      void pollRecord(b, id, stop.signal, push, log);
      const onAbort = (): void => {
        b.nc.publish(subjects.cancel(id));
        setTimeout(() => push({ kind: "gave-up" }), CANCEL_GRACE_MS).unref();
        cancelAttempt(b.attempts, id).then(
          // No worker had it: none will start it now, and nobody is left to confirm.
          (before) => before === "queued" && push({ kind: "gave-up" }),
          (err: unknown) =>
            log(
              `could not mark request ${id} cancelled in the attempt bucket (${errorMessage(err)}); its worker is told directly`,
            ),
        );
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
      removeAbort = () => signal.removeEventListener("abort", onAbort);
      let delivery = 0;
      // Log lines of `delivery` seen, and its finished record while lines it counts are still on the way.
      let lines = 0;
      let done: DoneRecord | undefined;
      for (;;) {
        const item = queue.shift();
        if (!item) {
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
          continue;
        }
        if (item.kind === "gave-up") {
          if (delivery > 0)
            log(
              `request ${id} (${request.step} of run ${request.runId}): its worker did not confirm the cancel within ${CANCEL_GRACE_MS} ms; treating it as cancelled`,
            );
          yield { type: "outcome", attempt, outcome: { kind: "cancelled", durationMs: 0 } };
          return;
        }
        const from =
          item.kind === "outcome" || item.kind === "claimed"
            ? item.delivery
            : item.kind === "done"
              ? item.record.delivery
              : item.report.delivery;
        if (item.kind === "report" && (item.report.id !== id || item.report.attempt !== attempt)) continue;
        // A delivery older than one seen already belongs to a worker JetStream gave up on.
        if (from < delivery) continue;
        if (from > delivery && delivery > 0)
          yield {
            type: "log",
            attempt,
            line: `the worker of delivery ${delivery} stopped answering; delivery ${from} runs the step again on the same input`,
          };
        if (from > delivery) lines = 0;
        delivery = Math.max(delivery, from);
        let outcome: WireOutcome | undefined;
        if (item.kind === "report" && item.report.type === "spawned")
          yield { type: "spawned", attempt, pid: item.report.pid };
        else if (item.kind === "report" && item.report.type === "log") {
          lines++;
          yield { type: "log", attempt, line: item.report.line };
        } else if (item.kind === "done") done = item.record;
        else if (item.kind === "outcome") outcome = item.outcome;
        else if (item.kind === "report" && item.report.type === "outcome") outcome = item.report.outcome;
        // The watch may beat the step's last lines, which travel on the report subject.
        if (!outcome && done?.delivery === delivery && lines >= (done.lines ?? 0)) outcome = done.outcome;
        if (!outcome) continue;
        if (outcome.kind === "ok") output = outcome.clipboard;
        yield { type: "outcome", attempt, outcome: await outcomeFromWire(b, outcome, `request ${id}`) };
        return;
      }
    } catch (err) {
      yield failed(err);
    } finally {
      removeAbort();
      stop.abort();
      unwatch();
      sub.unsubscribe();
      for (const stored of [input, output])
        dropWireClipboard(b, stored).catch((err: unknown) =>
          log(
            `could not delete a stored clipboard of request ${id} (${errorMessage(err)}); the bucket's TTL removes it`,
          ),
        );
    }
  }

  return {
    run,
    async close() {
      const open = opening;
      opening = undefined;
      let connected: Connected;
      try {
        if (!open) return;
        connected = await open;
      } catch {
        return; // never connected: nothing to close (the failure was reported to the step)
      }
      connected.watch.stop();
      await connected.b.close();
    },
  };
}

/** Put the request on the work queue, retrying while nats-server is away; false if cancelled first. */
async function publishRequest(
  b: Bus,
  wire: WireRequest,
  signal: AbortSignal,
  log: (line: string) => void,
): Promise<boolean> {
  const data = new TextEncoder().encode(JSON.stringify(wire));
  if (data.byteLength > b.maxPayload)
    throw new BusError(
      "E_BUS_REQUEST_TOO_LARGE",
      `the request for ${wire.step} is ${data.byteLength} bytes without its clipboard, over nats-server's max_payload of ${b.maxPayload}; make the step's 'with' smaller`,
    );
  for (let tries = 1; ; tries++) {
    if (signal.aborted) return false;
    try {
      // msgID: a retry after a lost acknowledgement is dropped by the stream, not queued twice.
      await b.js.publish(subjects.steps(wire.runsOn), data, { msgID: wire.id });
      return true;
    } catch (err) {
      if (tries === 1)
        log(
          `queueing ${wire.step} of run ${wire.runId} failed (${errorMessage(err)}); trying again every ${REPUBLISH_MS} ms`,
        );
    }
    try {
      await sleep(REPUBLISH_MS, undefined, { signal });
    } catch {
      return false;
    }
  }
}

/** Read the attempt record every POLL_MS and hand on its outcome once done. */
async function pollRecord(
  b: Bus,
  id: string,
  signal: AbortSignal,
  push: (item: Item) => void,
  log: (line: string) => void,
): Promise<void> {
  while (!signal.aborted) {
    try {
      await sleep(POLL_MS, undefined, { signal });
    } catch {
      return;
    }
    try {
      const current = await readAttempt(b.attempts, id);
      if (current?.record.state === "done") {
        push({ kind: "outcome", outcome: current.record.outcome, delivery: current.record.delivery });
        return;
      }
    } catch (err) {
      if (!b.nc.isClosed())
        log(`reading the attempt record of request ${id} failed (${errorMessage(err)}); trying again`);
    }
  }
}

/** A StepOutcome from its wire form, a stored clipboard fetched and checked. */
async function outcomeFromWire(b: Bus, outcome: WireOutcome, what: string): Promise<StepOutcome> {
  if (outcome.kind !== "ok" || !outcome.clipboard) return outcome;
  try {
    const clipboardYaml = await clipboardFromWire(b, outcome.clipboard, what);
    return { kind: "ok", clipboardYaml, durationMs: outcome.durationMs };
  } catch (err) {
    return {
      kind: "failed",
      error: { name: "BusError", code: errorCode(err), message: errorMessage(err), retryable: true },
      durationMs: outcome.durationMs,
    };
  }
}
