/**
 * A job as the API (and `jarvis job ... --json`) shows it, snake_case like the runs: free text a
 * node or a person wrote (the command, messages, output tails) passes the redactor first; a
 * script's body is not echoed, only its name and size.
 */
import type { Redactor } from "../clipboard/redact.js";
import type { JobNodeRecord, JobOperation, JobRecord } from "../jobs/job.js";
import type { JobCursor, JobEvent } from "../jobs/job-store.js";

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function operationJson(operation: JobOperation, redactor: Redactor): Record<string, unknown> {
  switch (operation.kind) {
    case "execute":
      return { kind: operation.kind, command: redactor.text(operation.command) };
    case "script":
      return { kind: operation.kind, name: operation.name, bytes: Buffer.byteLength(operation.body) };
    default:
      return { ...operation };
  }
}

/** The job without its nodes, with how many nodes stand in each state when they are given. */
export function jobJson(
  job: JobRecord,
  redactor: Redactor,
  nodes?: readonly JobNodeRecord[],
): Record<string, unknown> {
  const { options } = job;
  const counts: Record<string, number> = {};
  for (const n of nodes ?? []) counts[n.state] = (counts[n.state] ?? 0) + 1;
  return {
    jid: job.id,
    state: job.state,
    operation: operationJson(job.operation, redactor),
    targets: { hosts: job.targets.words, where: job.targets.where ?? null },
    options: {
      batch: options.batch
        ? "count" in options.batch
          ? options.batch.count
          : `${options.batch.percent}%`
        : null,
      max_failures: options.maxFailures ?? null,
      concurrency: options.concurrency ?? null,
      timeout: options.timeoutMs / 1000,
      ttl: options.ttlMs / 1000,
    },
    requested_by: job.requester,
    created_at: iso(job.createdAt),
    finished_at: iso(job.finishedAt),
    rerun_of: job.rerunOf,
    ...(nodes ? { counts } : {}),
  };
}

export function jobNodeJson(
  node: JobNodeRecord,
  redactor: Redactor,
  outputs: boolean,
): Record<string, unknown> {
  return {
    host: node.host,
    state: node.state,
    exit_code: node.exitCode,
    message: redactor.text(node.message),
    sent_at: iso(node.sentAt),
    received_at: iso(node.receivedAt),
    finished_at: iso(node.finishedAt),
    ...(outputs
      ? { stdout_tail: redactor.text(node.stdoutTail), stderr_tail: redactor.text(node.stderrTail) }
      : {}),
  };
}

/** A job with its nodes. */
export function jobDetailJson(
  job: JobRecord,
  nodes: readonly JobNodeRecord[],
  redactor: Redactor,
  outputs: boolean,
): Record<string, unknown> {
  return { ...jobJson(job, redactor, nodes), nodes: nodes.map((n) => jobNodeJson(n, redactor, outputs)) };
}

export function jobEventJson(event: JobEvent, redactor: Redactor): Record<string, unknown> {
  return {
    seq: event.seq,
    jid: event.jobId,
    host: event.host,
    state: event.state,
    at: iso(event.at),
    exit_code: event.exitCode,
    message: redactor.text(event.message),
    final: event.final,
  };
}

/** The wire form of a page's end: `<created_at ms>.<job id>`, checked on the way back in. */
export function formatJobCursor(cursor: JobCursor): string {
  return `${cursor.createdAt}.${cursor.id}`;
}

export function parseJobCursor(text: string): JobCursor {
  const dot = text.indexOf(".");
  return { createdAt: Number(text.slice(0, dot)), id: text.slice(dot + 1) };
}
