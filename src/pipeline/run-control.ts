/**
 * What the fronts (CLI, chat, later HTTP) may ask of jarvis's runs. One implementation
 * (run-service.ts) sits on the engine and the store; every front goes through it, so a run started
 * in IRC can be followed from Matrix or the CLI. Clipboards and logs come back redacted.
 */
import type { RunRecord, StepRecord, LogLine } from "../store/run-store.js";
import type { RunEvent } from "../protocol.js";
import type { FeedQuery, FollowOptions } from "../store/run-store.js";

/** Who asks, and where replies and progress go. */
export interface Requester {
  /** Verified identity, e.g. "irc:alice", "xmpp:alice@example.org", "cli:root". */
  identity: string;
  /** Where the command came from, e.g. "irc:#ops", "matrix:!room:server", "cli". */
  origin: string;
}

/** How a run is started. */
export interface StartOptions {
  /** Force it: steps see JARVIS_FORCE=1 (e.g. production:check lets a production host through). */
  force?: boolean;
}

/** A pipeline as listed for people. */
export interface PipelineSummary {
  name: string;
  description: string;
  steps: string[];
}

/** A run with its steps, for status and history. */
export interface RunDetail {
  run: RunRecord;
  steps: StepRecord[];
}

/** The operations behind every command. Hosts or run ids are accepted wherever a run is named. */
export interface RunControl {
  /** Load the design from `source`, create a run of `pipeline` for its host and queue it. */
  start(pipeline: string, source: string, who: Requester, options?: StartOptions): Promise<RunRecord>;
  /** Latest run of each host (or of one host, or one run id). */
  status(hostOrRun?: string): Promise<RunDetail[]>;
  /** The run's log, redacted. */
  log(hostOrRun: string): Promise<LogLine[]>;
  /** The clipboard after step `step` (1-based; default: the latest), redacted YAML. */
  clipboard(hostOrRun: string, step?: number): Promise<string>;
  /** What step `step` (1-based) added, changed and removed, redacted. */
  diff(hostOrRun: string, step: number): Promise<string>;
  /** Retry a failed or cancelled run from its failed step, optionally with an edited clipboard. */
  retry(
    hostOrRun: string,
    who: Requester,
    clipboardYaml?: string,
    options?: StartOptions,
  ): Promise<RunRecord>;
  /** Cancel a queued or running run: its step's process group is killed, on_failure steps run. */
  cancel(hostOrRun: string, who: Requester): Promise<RunRecord>;
  /** Runs of a host, newest first. */
  history(host: string, limit?: number): Promise<RunRecord[]>;
  pipelines(): Promise<PipelineSummary[]>;
  /**
   * Every run event after sequence `afterSeq` (of one run with `runId`), as it happens, whichever
   * process executes the run, until the signal aborts.
   */
  follow(afterSeq: number, options: FollowOptions): AsyncIterable<RunEvent>;
  /** The newest event's sequence: follow from here to see only what happens next. */
  latestSeq(): Promise<number>;
  /** The events after `afterSeq` there are now, oldest first. */
  readEvents(afterSeq: number, query?: FeedQuery): Promise<RunEvent[]>;
}
