/**
 * One delivery of a step request on a worker: its step runs with the local fork and its reports
 * go back on the request's subject. The step may be spawned before the claim on the attempt
 * record is known; it gets its input only once the claim holds, and nothing of a delivery whose
 * claim fails is reported.
 */
import { BusError, errorCode, errorMessage } from "../../errors.js";
import { readAttempt } from "./nats-attempts.js";
import { clipboardFromWire, clipboardToWire } from "./nats-clipboard.js";
import { encode, subjects } from "./nats-wire.js";
import type { JsMsg } from "@nats-io/jetstream";
import type { Bus } from "./nats-bus.js";
import type { Claim } from "./nats-attempts.js";
import type { LocalForkExecutor } from "./local-fork.js";
import type { WireOutcome, WireReport, WireRequest } from "./nats-wire.js";
import type { StepOutcome } from "../../protocol.js";

/** What a delivery needs of its worker. */
export interface DeliveryContext {
  bus: Bus;
  local: LocalForkExecutor;
  /** The worker's id, in every report. */
  worker: string;
  /** How often a running step tells JetStream it is still worked on. */
  keepAliveMs: number;
  /** Aborted when the worker closes: the step is stopped and handed back. */
  closing: AbortSignal;
  log: (line: string) => void;
}

/**
 * Run the step of a delivery, given its input once `claiming` holds: its outcome on the wire (or
 * handed back on shutdown) and the number of log lines reported. Nothing is reported of a
 * delivery whose claim fails: its step is stopped before it reads its input.
 */
export async function runDelivery(
  ctx: DeliveryContext,
  msg: JsMsg,
  request: WireRequest,
  delivery: number,
  claiming: Promise<Claim>,
): Promise<{ outcome: WireOutcome | "handed-back"; lines: number }> {
  const stop = new AbortController();
  const onClose = (): void => stop.abort("shutdown");
  ctx.closing.addEventListener("abort", onClose, { once: true });
  const cancelSub = ctx.bus.nc.subscribe(subjects.cancel(request.id), {
    max: 1,
    callback: () => stop.abort("cancelled"),
  });
  // Keep the message ours, and notice a cancel whose live message was lost.
  const keepAlive = setInterval(() => {
    msg.working();
    readAttempt(ctx.bus.attempts, request.id).then(
      (current) => current?.record.state === "cancelled" && stop.abort("cancelled"),
      (err: unknown) => ctx.log(`reading the attempt record of ${request.id} failed (${errorMessage(err)})`),
    );
  }, ctx.keepAliveMs);
  const sender = { id: request.id, delivery, worker: ctx.worker, attempt: request.attempt };
  // A claim that fails because the worker is closing reaches the caller, which awaits it too.
  const holds = claiming.then(
    (claim) => claim.kind === "claimed",
    () => false,
  );
  let inputError: unknown;
  const input = holds.then(async (held) => {
    if (!held) return undefined;
    try {
      return await clipboardFromWire(ctx.bus, request.clipboard, `request ${request.id}`);
    } catch (err) {
      inputError = err;
      return undefined;
    }
  });
  let lines = 0;
  try {
    let outcome: StepOutcome | undefined;
    for await (const r of ctx.local.runGated({ ...request, clipboardYaml: "" }, input, stop.signal)) {
      if (!(await holds)) continue;
      if (r.type === "spawned") report(ctx.bus, { ...sender, type: "spawned", pid: r.pid });
      else if (r.type === "log") {
        lines++;
        report(ctx.bus, { ...sender, type: "log", line: r.line });
      } else outcome = r.outcome;
    }
    if (stop.signal.reason === "shutdown") return { outcome: "handed-back", lines };
    if (inputError !== undefined) return { outcome: failedOutcome(inputError), lines };
    if (!outcome)
      return {
        outcome: failedOutcome(new BusError("E_WORKER_NO_OUTCOME", "the step ended without an outcome")),
        lines,
      };
    if (outcome.kind !== "ok") return { outcome, lines };
    const clipboard =
      outcome.clipboardYaml === undefined
        ? undefined
        : await clipboardToWire(ctx.bus, `out-${request.id}-${delivery}`, outcome.clipboardYaml);
    return {
      outcome: { kind: "ok", durationMs: outcome.durationMs, ...(clipboard ? { clipboard } : {}) },
      lines,
    };
  } catch (err) {
    return { outcome: failedOutcome(err), lines };
  } finally {
    clearInterval(keepAlive);
    cancelSub.unsubscribe();
    ctx.closing.removeEventListener("abort", onClose);
  }
}

/** The outcome of a request cancelled before this delivery ran it. */
export const cancelledOutcome: WireOutcome = { kind: "cancelled", durationMs: 0 };

/** A failure of the bus or the worker (not of the step), retryable. */
export function failedOutcome(err: unknown): WireOutcome {
  return {
    kind: "failed",
    error: { name: "BusError", code: errorCode(err), message: errorMessage(err), retryable: true },
    durationMs: 0,
  };
}

/** Send a report on the request's subject (no reply: the attempt record is the durable word). */
export function report(bus: Bus, message: WireReport): void {
  bus.nc.publish(subjects.reports(message.id), encode(message));
}
