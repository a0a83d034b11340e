/**
 * What the dispatcher answers: data, not text. Each front renders it its own way (chat: a few
 * lines and a pointer to the CLI; the CLI: text or JSON; the HTTP API: JSON), so the same command
 * means the same thing everywhere.
 */
import type { ApprovalResult, RunDetail, PipelineSummary } from "../pipeline/run-control.js";
import type { RunTarget } from "../pipeline/run-target.js";
import type { NodeView } from "../inventory/node-view.js";
import type { JobNodeRecord, JobRecord } from "../jobs/job.js";
import type { JobCursor } from "../jobs/job-store.js";
import type { ScheduleView } from "../schedule/schedule-book.js";
import type { NodeEventRecord } from "../store/node-event-store.js";
import type { AuditEntry, HostPage, LogLine, RunPage, RunRecord } from "../store/run-store.js";

/** Why a command was not executed. */
export type Refusal = "rate-limited" | "denied" | "input";

/** The answer to one command. */
export type Reply =
  /** New runs, queued (or, for a foreground run, created for the caller to execute). */
  | {
      kind: "started";
      verb: "deploy" | "run" | "redeploy" | "destroy" | "replay" | "plan";
      runs: RunRecord[];
    }
  | { kind: "retrying"; run: RunRecord }
  /** resume executes the run to its end. */
  | { kind: "resumed"; run: RunRecord }
  | { kind: "cancelling"; run: RunRecord }
  | { kind: "status"; target: RunTarget; details: RunDetail[] }
  /** `status` without a host: one page of every host with its latest run (GET /hosts). */
  | { kind: "host-index"; page: HostPage }
  | { kind: "log"; target: RunTarget; lines: LogLine[] }
  | { kind: "clipboard"; target: RunTarget; step: number | undefined; value: Record<string, unknown> }
  | { kind: "diff"; target: RunTarget; step: number; text: string }
  /** `next`: the `before` cursor of the following page, null on the last (GET /hosts/{host}/runs). */
  | { kind: "history"; host: string; runs: RunRecord[]; next: string | null }
  | { kind: "pipelines"; pipelines: PipelineSummary[] }
  | { kind: "audit"; entries: AuditEntry[] }
  | { kind: "runs"; page: RunPage }
  | { kind: "deleted"; runId: string }
  /** The caller may follow this run's events (the front subscribes to the feed itself). */
  | { kind: "event-stream"; run: RunRecord }
  | { kind: "help"; topic: string | undefined }
  | { kind: "whoami"; identity: string; roles: string[] }
  /** The nodes a selector picked (`where`), or every node, in host order. */
  | { kind: "hosts"; where: string | undefined; nodes: NodeView[] }
  /** An approve or deny that counted (refusals come back as `refused`). */
  | ({ kind: "approval"; verdict: "approve" | "deny" } & ApprovalResult)
  /**
   * follow: the front that shows step output (chat) starts following `target`; `run` is its
   * current run, if any (a host without one is followed from its next run).
   */
  | { kind: "following"; target: RunTarget; run: RunRecord | undefined }
  /** unfollow: the front stops following `target` (undefined: everything it follows there). */
  | { kind: "unfollowing"; target: RunTarget | undefined }
  /** A job and its nodes: as it ended, or as it stood when the reply stopped waiting (`job.finishedAt` null). */
  | { kind: "job"; job: JobRecord; nodes: JobNodeRecord[] }
  /** A page of jobs, newest first; `next`: the cursor of the following page, null on the last. */
  | { kind: "jobs"; jobs: JobRecord[]; next: JobCursor | null }
  | { kind: "job-deleted"; jobId: string }
  | { kind: "scheduled"; schedule: ScheduleView }
  /** Every schedule, oldest first, with its recent occurrences (skipped or run, and the run ids). */
  | { kind: "schedules"; schedules: ScheduleView[] }
  | { kind: "unscheduled"; id: string }
  /** The agents' latest events, newest first: one node's (`host`) or every node's. */
  | {
      kind: "node-events";
      host: string | undefined;
      events: NodeEventRecord[];
      /** The `before` of the next (older) page, when there are more. */
      next: string | null;
    }
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
    case "approval":
    case "event-stream":
      return reply.run.id;
    case "deleted":
      return reply.runId;
    default:
      return null;
  }
}
