/**
 * What the dispatcher answers: data, not text. Each front renders it its own way (chat: a few
 * lines and a pointer to the CLI; the CLI: text or JSON; the HTTP API: JSON), so the same command
 * means the same thing everywhere.
 */
import type { RunDetail, PipelineSummary } from "../pipeline/run-control.js";
import type { RunTarget } from "../pipeline/run-target.js";
import type { AuditEntry, LogLine, RunRecord } from "../store/run-store.js";

/** Why a command was not executed. */
export type Refusal = "rate-limited" | "denied" | "input";

/** The answer to one command. */
export type Reply =
  /** New runs, queued (or, for a foreground run, created for the caller to execute). */
  | { kind: "started"; verb: "deploy" | "run" | "redeploy" | "destroy" | "plan"; runs: RunRecord[] }
  | { kind: "retrying"; run: RunRecord }
  /** resume executes the run to its end. */
  | { kind: "resumed"; run: RunRecord }
  | { kind: "cancelling"; run: RunRecord }
  | { kind: "status"; target: RunTarget | undefined; details: RunDetail[] }
  | { kind: "log"; target: RunTarget; lines: LogLine[] }
  | { kind: "clipboard"; target: RunTarget; step: number | undefined; value: Record<string, unknown> }
  | { kind: "diff"; target: RunTarget; step: number; text: string }
  | { kind: "history"; host: string; runs: RunRecord[] }
  | { kind: "pipelines"; pipelines: PipelineSummary[] }
  | { kind: "audit"; entries: AuditEntry[] }
  | { kind: "help"; topic: string | undefined }
  | { kind: "whoami"; identity: string; roles: string[] }
  | { kind: "refused"; why: Refusal; message: string }
  /** The command ran and failed: `error` is what was thrown (its code decides the CLI's exit). */
  | { kind: "failed"; message: string; error: unknown };

/** The run a reply created or acted on, for the audit trail. */
export function replyRunId(reply: Reply): string | null {
  switch (reply.kind) {
    case "started":
      return reply.runs[0]?.id ?? null;
    case "retrying":
    case "resumed":
    case "cancelling":
      return reply.run.id;
    default:
      return null;
  }
}
