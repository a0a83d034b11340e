/**
 * A run event as the API sends it: the feed's event with every free text (log lines, errors)
 * redacted, serialised once as an SSE frame and as an NDJSON line.
 */
import type { Redactor } from "../clipboard/redact.js";
import type { RunEvent, RunSummary } from "../protocol.js";

/** One event ready for any connection. */
export interface WireEvent {
  seq: number;
  runId: string;
  /** Ends the run's stream (the run reached a final state). */
  final: boolean;
  sse: string;
  ndjson: string;
}

/** The event with its log line and error messages masked. */
export function redactEvent(event: RunEvent, redactor: Redactor): RunEvent {
  switch (event.type) {
    case "step-log":
      return { ...event, line: redactor.text(event.line) };
    case "step-retry":
      return { ...event, error: redactor.text(event.error) };
    case "step-finished":
      return event.error
        ? { ...event, error: { ...event.error, message: redactor.text(event.error.message) } }
        : event;
    case "run-queued":
    case "run-started":
    case "run-finished":
      return { ...event, run: redactSummary(event.run, redactor) };
    default:
      return event;
  }
}

function redactSummary(run: RunSummary, redactor: Redactor): RunSummary {
  return run.error ? { ...run, error: { ...run.error, message: redactor.text(run.error.message) } } : run;
}

/** Serialise once for both formats. */
export function wireEvent(event: RunEvent): WireEvent {
  const json = JSON.stringify(event);
  return {
    seq: event.seq,
    runId: event.runId,
    final: event.type === "run-finished",
    sse: `id: ${event.seq}\nevent: ${event.type}\ndata: ${json}\n\n`,
    ndjson: `${json}\n`,
  };
}
