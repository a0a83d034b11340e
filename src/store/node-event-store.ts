/**
 * Agents' events and the firings of the rules that map them to pipelines, in the store every
 * jarvis service shares. An event is kept once under its id, however often the bus delivers it;
 * a rule fires for a node only by a compare-and-set on its last firing (by the store's clock), so
 * a restarted service, or two services reading the same events, never fire it twice within its
 * debounce.
 */
import { CommandError } from "../errors.js";
import type { FactValue } from "../inventory/node-view.js";

/** Events kept per node; older ones are dropped as new ones come. */
export const NODE_EVENTS_KEPT = 1000;

export interface NewNodeEvent {
  id: string;
  host: string;
  kind: string;
  /** When it happened, by the node's clock. */
  at: number;
  data: Record<string, FactValue>;
}

export interface NodeEventRecord extends NewNodeEvent {
  /** When jarvis kept it, by the store's clock. */
  receivedAt: number;
  /**
   * Its place in the order jarvis kept events, every node's together: a follower that has seen
   * `seq` never later finds a smaller one committed, so it resumes after the last it saw.
   */
  seq: number;
}

/** Following kept events: one node's, or every node's. */
export interface NodeEventFollow {
  host?: string;
  signal: AbortSignal;
  /** How often to look for events kept by other processes (stores that can push ignore it). */
  pollMs?: number;
}

export interface NodeEventQuery {
  /** One node's events; absent: every node's. */
  host?: string;
  limit: number;
  /** The id of the last event of the page before: only events kept before it. */
  before?: string;
}

/** A `before` that names no kept event (of the host asked about): its page cannot be found. */
export function unknownEventCursor(before: string, host: string | undefined): CommandError {
  return new CommandError(
    "E_USAGE",
    `the events cursor '${before.slice(0, 64)}' is no event jarvis keeps${host === undefined ? "" : ` from ${host}`} (only the last ${NODE_EVENTS_KEPT} per node are kept); start again from the newest events`,
  );
}

export interface RuleFiringClaim {
  rule: string;
  host: string;
  /** The event that fires it. */
  eventId: string;
  /** The claim fails while the rule's last firing for this host is more recent than this. */
  debounceMs: number;
}

export interface RuleFiring {
  rule: string;
  host: string;
  eventId: string;
  /** The store's clock when it fired. */
  firedAt: number;
  runId: string | null;
  /** Why no run started (ACL refusal, host busy, bad design), when none did. */
  error: string | null;
}

/** The (rule, node) pair a held event waits under. */
export type RuleKey = Pick<RuleFiringClaim, "rule" | "host">;

/** What asking for a held event's firing came to. */
export type HeldFiringClaim =
  /** It fired now: the firing, and the held event if it is still kept. */
  | { kind: "fired"; firing: RuleFiring; event: NodeEventRecord | undefined }
  /** The debounce has this long to go, by the store's clock. */
  | { kind: "wait"; ms: number }
  /** No event is held (fired already, here or by another service). */
  | { kind: "none" };

export interface NodeEventStore {
  /** Keep an event; false when one with its id is kept already (a redelivery). */
  recordNodeEvent(event: NewNodeEvent): Promise<boolean>;
  /** Newest first; a `before` that names no kept event is refused (unknownEventCursor). */
  listNodeEvents(query: NodeEventQuery): Promise<NodeEventRecord[]>;
  /** The newest kept event's seq (0 when none): follow after it for what comes next. */
  latestNodeEventSeq(): Promise<number>;
  /** Events kept after `afterSeq`, oldest first (one node's, or every node's). */
  nodeEventsAfter(afterSeq: number, query: { host?: string; limit: number }): Promise<NodeEventRecord[]>;
  /** Every event kept after `afterSeq`, by any process, as it is kept, until the signal aborts. */
  followNodeEvents(afterSeq: number, follow: NodeEventFollow): AsyncIterable<NodeEventRecord>;
  /**
   * Fire `rule` for `host` unless it fired within `debounceMs`: the firing, or undefined. A
   * firing drops the event held for the pair: it acts on the newer one.
   */
  claimRuleFiring(claim: RuleFiringClaim): Promise<RuleFiring | undefined>;
  /**
   * Hold `eventId`, which came within the debounce of the pair's last firing, to fire when that
   * debounce ends (the trailing firing; a later held event replaces it). The ms until then, by
   * the store's clock (0 when it has ended already).
   */
  holdRuleEvent(claim: RuleFiringClaim): Promise<number>;
  /** Fire the held event once the debounce has passed, by the same compare-and-set as a firing. */
  claimHeldFiring(key: RuleKey & { debounceMs: number }): Promise<HeldFiringClaim>;
  /** Every pair with a held event (for a service that starts: their debounces run on). */
  heldRuleEvents(): Promise<RuleKey[]>;
  /** What came of a firing (only the firing of `eventId`: a later one is left alone). */
  recordRuleFiringResult(
    claim: Pick<RuleFiring, "rule" | "host" | "eventId">,
    result: { runId: string } | { error: string },
  ): Promise<void>;
  getRuleFiring(rule: string, host: string): Promise<RuleFiring | undefined>;
}
