/** /metrics in the Prometheus text exposition format (0.0.4). */
import { DURATION_BUCKETS } from "./step-durations.js";
import type { StepDurations } from "./step-durations.js";
import type { ConnectionState } from "../bot/connection-state.js";
import type { RunState } from "../protocol.js";

const CHAT_STATES: readonly ConnectionState["kind"][] = ["connecting", "connected", "reconnecting", "closed"];

/** What the metrics are made of. */
export interface MetricsInput {
  runs: Record<RunState, number>;
  durations: StepDurations;
  chat: ReadonlyMap<string, ConnectionState>;
  followers: number;
}

/** Label values escaped as the format requires. */
function label(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

/** The whole exposition. */
export function prometheusText(input: MetricsInput): string {
  const out: string[] = [];
  out.push("# HELP jarvis_runs Runs in the store by state.", "# TYPE jarvis_runs gauge");
  for (const [state, n] of Object.entries(input.runs)) out.push(`jarvis_runs{state="${state}"} ${n}`);
  out.push(
    "# HELP jarvis_queue_depth Runs queued and not yet claimed by a process.",
    "# TYPE jarvis_queue_depth gauge",
    `jarvis_queue_depth ${input.runs.queued}`,
  );
  out.push(
    "# HELP jarvis_step_duration_seconds Duration of finished step attempts seen by this server, by step.",
    "# TYPE jarvis_step_duration_seconds histogram",
  );
  for (const [step, h] of input.durations.byStep) {
    const name = label(step);
    DURATION_BUCKETS.forEach((bound, i) =>
      out.push(`jarvis_step_duration_seconds_bucket{step="${name}",le="${bound}"} ${h.buckets[i]}`),
    );
    out.push(
      `jarvis_step_duration_seconds_bucket{step="${name}",le="+Inf"} ${h.count}`,
      `jarvis_step_duration_seconds_sum{step="${name}"} ${h.sum}`,
      `jarvis_step_duration_seconds_count{step="${name}"} ${h.count}`,
    );
  }
  out.push(
    "# HELP jarvis_chat_connection Each chat network's connection state (1 for the current one).",
    "# TYPE jarvis_chat_connection gauge",
  );
  for (const [network, state] of input.chat)
    for (const kind of CHAT_STATES)
      out.push(
        `jarvis_chat_connection{network="${label(network)}",state="${kind}"} ${state.kind === kind ? 1 : 0}`,
      );
  out.push(
    "# HELP jarvis_api_event_followers Connections following a run's events now.",
    "# TYPE jarvis_api_event_followers gauge",
    `jarvis_api_event_followers ${input.followers}`,
  );
  return `${out.join("\n")}\n`;
}
