/**
 * The one seam between the `jarvis` commands and where they act: this machine's store (through
 * the dispatcher, as the local operator) or a jarvis server's HTTP API (`--server URL`, or
 * JARVIS_SERVER, with JARVIS_TOKEN). Commands print what a backend answers and never ask which
 * one it is; both answer in the shapes the terminal shows (format.ts).
 */
import type { ApprovalOutcome, LogLine } from "../store/run-store.js";
import type { ScheduleParts } from "../schedule/schedule-json.js";
import type { TypedCommand } from "../commands/typed-command.js";
import type { ReplayOnto } from "../commands/typed-command.js";
import type { WireRunEvent } from "../api/response-schemas.js";
import type { NodeEventJson } from "../api/node-event-json.js";
import type { DetailShown, RunShown } from "./format.js";

/** Runs just started, retried or replayed. */
export interface StartedRuns {
  runs: RunShown[];
  /**
   * See them to their end, handing each of their events to `onEvent` (undefined: nobody prints
   * them): a local backend executes them here, a remote one follows the server's event stream.
   * Resolves to each run as it ended.
   */
  finish(onEvent: ((event: WireRunEvent) => void) | undefined): Promise<DetailShown[]>;
}

/** What starting a pipeline on a design asks for. */
export interface StartRequest {
  pipeline: string;
  source: string;
  force: boolean;
  plan: boolean;
  /** Plan, then leave the apply run waiting for approval (`--plan-then-apply`). */
  planThenApply: boolean;
  /** Executed by this command (local) rather than queued for `jarvis start`; a server always executes. */
  foreground: boolean;
}

/** The schedule commands as typed (typed-command.ts). */
export type ScheduleCommand = Extract<TypedCommand, { verb: "schedule" }>;

/** What the terminal shows of a schedule (schedule-text.ts, schedule-json.ts). */
export type ScheduleShown = ScheduleParts;

/** An approve or deny that counted. */
export interface ApprovalShown {
  outcome: Exclude<ApprovalOutcome["outcome"], "not-awaiting">;
  run: RunShown;
  approvals: number;
  needed: number;
}

/** One page of every host with its latest run. */
export interface HostPageShown {
  latest: RunShown[];
  next: string | null;
  total: number;
}

/** One page of the agents' events, newest first; `next` is the following page's `before`. */
export interface NodeEventPageShown {
  events: NodeEventJson[];
  next: string | null;
}

/** What following the agents' events asks for. */
export interface EventFollow {
  host?: string | undefined;
  /** Resume after this seq (an event's `seq`); undefined: from the newest event kept now. */
  after?: number | undefined;
  /** Following ends when it aborts. */
  signal: AbortSignal;
}

/**
 * Where the run commands act. A `target` is a `<host|run|group>` word as typed; the backend
 * resolves it the way the store does (run-target.ts).
 */
export interface CliBackend {
  start(request: StartRequest): Promise<StartedRuns>;
  retry(
    target: string,
    options: { force: boolean; foreground: boolean; clipboardYaml?: string | undefined },
  ): Promise<StartedRuns>;
  replay(target: string, onto: ReplayOnto, foreground: boolean): Promise<StartedRuns>;
  cancel(target: string): Promise<RunShown>;
  /** The run, a host's latest run, or every run of a group (`group` true). */
  status(target: string): Promise<{ details: DetailShown[]; group: boolean }>;
  hosts(page: { limit: number; after?: string | undefined }): Promise<HostPageShown>;
  /** The agents' events: one node's (`host`) or every node's. */
  events(query: {
    host?: string | undefined;
    limit: number;
    before?: string | undefined;
  }): Promise<NodeEventPageShown>;
  /** Each event the agents report from now on (oldest first), handed to `onEvent`, until aborted. */
  followEvents(follow: EventFollow, onEvent: (event: NodeEventJson) => void): Promise<void>;
  log(target: string): Promise<LogLine[]>;
  clipboard(target: string, step: number | undefined): Promise<Record<string, unknown>>;
  diff(target: string, step: number): Promise<string>;
  history(
    host: string,
    page: { limit: number; before?: string | undefined },
  ): Promise<{ runs: RunShown[]; next: string | null }>;
  schedule(command: ScheduleCommand): Promise<ScheduleShown>;
  schedules(): Promise<ScheduleShown[]>;
  unschedule(id: string): Promise<void>;
  approve(target: string): Promise<ApprovalShown>;
  deny(target: string, reason: string): Promise<ApprovalShown>;
  close(): Promise<void>;
}
