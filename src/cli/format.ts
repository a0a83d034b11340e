/** How runs, steps and logs look to people on a terminal (chat has its own, shorter forms). */
import { positionText } from "../pipeline/run-events.js";
import type { StepPosition, WireError } from "../protocol.js";
import type {
  ApprovalRecord,
  LogLine,
  RunRecord,
  RunView,
  StepRecord,
  StoredApproval,
} from "../store/run-store.js";
import type { RunJson } from "../api/response-schemas.js";
import { awaitingText, decisionsText } from "../pipeline/approval-text.js";

/**
 * A run as far as the terminal shows it: what a local store holds, and what a remote jarvis's API
 * answers (whose errors carry no class name).
 */
export type RunShown = Omit<RunView, "error" | "approval"> & {
  error: Pick<WireError, "code" | "message"> | null;
  approval: Omit<StoredApproval, "requesterPerson"> | null;
};

/** A step as far as the terminal shows it (the API gives a step's error as its message alone). */
export type StepShown = Pick<StepRecord, "name" | "state" | "attempts" | "durationMs" | "onFailure"> & {
  error: Pick<WireError, "message"> | null;
};

/** A run with its steps and approval decisions, local or remote. */
export interface DetailShown {
  run: RunShown;
  steps: StepShown[];
  approvals?: ApprovalRecord[] | undefined;
}

/**
 * The `step` object of `status --json`: 1-based index of the main step running now or last run
 * (on_failure steps never move it, so a failed run names the step that failed).
 */
export function stepPosition(
  run: RunShown,
  steps: readonly StepShown[],
): { index: number; total: number; name: string } {
  const index = run.stepIndex;
  const name = index >= 0 ? (run.stepName ?? steps.filter((s) => !s.onFailure)[index]?.name ?? "") : "";
  return { index: index + 1, total: run.totalSteps, name };
}

/** Each step with its position within its phase (main steps, then on_failure steps). */
function positioned(steps: readonly StepShown[]): { step: StepShown; position: StepPosition }[] {
  const main = steps.filter((s) => !s.onFailure);
  const onFailure = steps.filter((s) => s.onFailure);
  return [
    ...main.map((step, index) => ({
      step,
      position: { phase: "main" as const, index, total: main.length, name: step.name },
    })),
    ...onFailure.map((step, index) => ({
      step,
      position: { phase: "on_failure" as const, index, total: onFailure.length, name: step.name },
    })),
  ];
}

/** The stable JSON shape of one run (`status --json`, `history --json`). */
export function runJson(
  run: RunShown & Partial<Pick<RunRecord, "planRun" | "applyApproval">>,
  steps?: readonly StepShown[],
  approvals?: readonly ApprovalRecord[],
): RunJson {
  return {
    run: run.id,
    host: run.host,
    pipeline: run.pipeline,
    state: run.state,
    step: stepPosition(run, steps ?? []),
    error: run.error ? { code: run.error.code, message: run.error.message } : null,
    requested_by: run.requestedBy,
    origin: run.origin,
    source: run.source,
    group: run.group,
    after: run.after,
    forced: run.forced,
    plan: run.plan,
    // A plan-then-apply: the plan run says its apply waits for approval; the apply run names its plan.
    ...(run.applyApproval ? { then_apply: true as const } : {}),
    ...(run.planRun ? { plan_run: run.planRun } : {}),
    created_at: iso(run.createdAt),
    started_at: iso(run.startedAt),
    finished_at: iso(run.finishedAt),
    approval: run.approval
      ? {
          approvers: run.approval.role === null ? "acl:approve" : `role:${run.approval.role}`,
          role: run.approval.role,
          count: run.approval.count,
          expires_at: iso(run.approval.expiresAt),
          notify: run.approval.notify,
          ...(approvals
            ? {
                decisions: approvals.map((a) => ({
                  verdict: a.verdict,
                  by: a.identity,
                  person: a.person,
                  reason: a.reason,
                  at: iso(a.at),
                })),
              }
            : {}),
        }
      : null,
    ...(steps
      ? {
          steps: positioned(steps).map(({ step: s, position }) => ({
            index: position.index + 1,
            phase: position.phase,
            name: s.name,
            state: s.state,
            attempts: s.attempts,
            duration_ms: s.durationMs,
            on_failure: s.onFailure,
            error: s.error ? s.error.message : null,
          })),
        }
      : {}),
  };
}

/** One line saying where a run is, or where it failed and why. */
export function statusLine({
  run,
  steps,
  approvals = [],
}: {
  run: RunShown;
  steps: readonly StepShown[];
  approvals?: readonly ApprovalRecord[] | undefined;
}): string {
  const pos = stepPosition(run, steps);
  const at = `${pos.index}/${pos.total} ${pos.name}`;
  const decided = decisionsText(approvals);
  const decisions = decided ? `; ${decided}` : "";
  switch (run.state) {
    case "awaiting_approval":
      return `${run.host}: ${awaitingText(run, approvals, Date.now())} (run ${run.id}, ${run.pipeline}, by ${run.requestedBy}; jarvis approve ${run.id} | jarvis deny ${run.id})`;
    case "queued":
      return `${run.host}: queued (run ${run.id}, ${run.pipeline}${decisions})`;
    case "running":
      return `${run.host}: running ${at} (run ${run.id}, ${run.pipeline}, by ${run.requestedBy})`;
    case "succeeded":
      if (run.plan)
        return `${run.host}: plan of ${run.pipeline} ready (run ${run.id}, ${pos.total} steps, ${elapsed(run)})`;
      return `${run.host}: ${run.pipeline} succeeded (run ${run.id}, ${pos.total} steps, ${elapsed(run)})`;
    case "cancelled":
      return `${run.host}: cancelled at ${pos.index > 0 ? at : "the start"}${run.error ? `: ${run.error.message}` : ""} (run ${run.id}${decisions})`;
    case "failed":
      return `${run.host}: failed at ${at}: ${run.error ? `${run.error.message} [${run.error.code}]` : "?"} (run ${run.id}; see: jarvis log ${run.host}, jarvis clipboard ${run.host}, jarvis retry ${run.host})`;
  }
}

/** The step table of `status <host>`. */
export function stepTable(steps: readonly StepShown[]): string {
  return positioned(steps)
    .map(({ step: s, position }) => {
      const mark = { pending: " ", running: ">", ok: "✓", failed: "✗", skipped: "-" }[s.state];
      const time = s.durationMs !== null ? ` ${s.durationMs} ms` : "";
      const tries = s.attempts > 1 ? ` (${s.attempts} attempts)` : "";
      const err = s.state === "failed" && s.error ? `: ${s.error.message}` : "";
      const at =
        position.phase === "main"
          ? `${String(position.index + 1).padStart(2)} ${s.name}`
          : positionText(position);
      return `  ${mark} ${at}${time}${tries}${err}`;
    })
    .join("\n");
}

/** One log line for the terminal: `[2]` for a main step, `[on_failure 1]` for an on_failure one. */
export function logLine(l: LogLine): string {
  const step = `${l.step.phase === "on_failure" ? "on_failure " : ""}${l.step.index + 1}`;
  return `${new Date(l.at).toISOString()} [${step}${l.attempt > 1 ? `#${l.attempt}` : ""}] ${l.line}`;
}

function iso(ms: number): string;
function iso(ms: number | null): string | null;
function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

function elapsed(run: RunShown): string {
  if (!run.startedAt || !run.finishedAt) return "";
  const s = (run.finishedAt - run.startedAt) / 1000;
  return s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

/** A cluster's runs in one line: each host's state, in dependency order. */
export function groupLine(details: readonly DetailShown[]): string {
  const first = details[0]?.run;
  if (!first) return "";
  const parts = [...details]
    .sort((a, b) => a.run.createdAt - b.run.createdAt)
    .map(({ run, steps }) => {
      const pos = stepPosition(run, steps);
      return run.state === "running"
        ? `${run.host} running ${pos.index}/${pos.total}`
        : `${run.host} ${run.state}`;
    });
  return `cluster ${first.group} (${details.length} hosts, ${first.pipeline}): ${parts.join("; ")}`;
}
