/**
 * What a kept event sets off: each rule it matches fires for the event's node at most once per
 * debounce (a compare-and-set on the rule's last firing in the store, so a restart or a second
 * service does not fire it again), on behalf of `rule:<name>`. An event that comes within the
 * debounce is held in the store (the latest one wins) and fires once when the debounce ends, so
 * the state a burst ends in is acted on: the trailing firing, claimed by the same compare-and-set
 * by whichever service's timer comes first, and taken up again by a service that starts. The ACL
 * decides as for a person (the rule's identity needs a role allowing the pipeline's verb on the
 * node); every firing is audited whatever came of it, and announced in the rule's rooms.
 */
import { decide } from "../commands/acl.js";
import type { AclPolicy } from "../commands/acl.js";
import { audit } from "../commands/audit.js";
import { pipelineVerb } from "../commands/dispatcher.js";
import { errorMessage } from "../errors.js";
import type { NodeDirectory } from "../inventory/node-view.js";
import type { RunControl } from "../pipeline/run-control.js";
import type { NewNodeEvent, NodeEventStore, RuleFiring } from "../store/node-event-store.js";
import { eventMatches, nodeMatches } from "./rule-match.js";
import type { EventRule } from "./rules-schema.js";

/** Where announcements go: a room as `<network>:<room>`, and the line. */
export type Announcer = (room: string, line: string) => void;

export interface RuleFirerOptions {
  rules: readonly EventRule[];
  store: NodeEventStore;
  control: Pick<RunControl, "startAll" | "lastSource" | "recordAudit" | "history">;
  acl: AclPolicy;
  nodes: NodeDirectory;
  log: (line: string) => void;
}

const MAX_TIMER_MS = 2 ** 31 - 1;
const ACTIVE: ReadonlySet<string> = new Set(["awaiting_approval", "queued", "running"]);

export class RuleFirer {
  private readonly announcers = new Set<Announcer>();
  /** The timer of each (rule, node) whose held event fires when its debounce ends. */
  private readonly trailing = new Map<string, NodeJS.Timeout>();
  private stopped = false;

  constructor(private readonly o: RuleFirerOptions) {}

  /** Take up the events held in the store (by this service before a restart, or another). */
  async resume(): Promise<void> {
    for (const key of await this.o.store.heldRuleEvents()) {
      const rule = this.o.rules.find((r) => r.name === key.rule);
      if (rule) await this.fireHeld(rule, key.host);
    }
  }

  /** Stop the trailing timers; what they would fire stays held in the store for the next start. */
  stop(): void {
    this.stopped = true;
    for (const timer of this.trailing.values()) clearTimeout(timer);
    this.trailing.clear();
  }

  /** Hear every announcement (the chat front); the function that stops it. */
  onAnnounce(announcer: Announcer): () => void {
    this.announcers.add(announcer);
    return () => this.announcers.delete(announcer);
  }

  /** Fire every rule the event matches (and its debounce allows); the firings made. */
  async consider(event: NewNodeEvent): Promise<RuleFiring[]> {
    const fired: RuleFiring[] = [];
    const candidates = this.o.rules.filter((rule) => eventMatches(rule, event));
    if (candidates.length === 0) return fired;
    const node = await this.o.nodes.get(event.host);
    for (const rule of candidates) {
      if (!nodeMatches(rule, node)) continue;
      const firing = await this.o.store.claimRuleFiring({
        rule: rule.name,
        host: event.host,
        eventId: event.id,
        debounceMs: rule.debounceMs,
      });
      if (firing) {
        fired.push(await this.fire(rule, event, firing));
        continue;
      }
      // It fired for this node within its debounce, here or by another service: hold this event.
      const waitMs = await this.o.store.holdRuleEvent({
        rule: rule.name,
        host: event.host,
        eventId: event.id,
        debounceMs: rule.debounceMs,
      });
      this.schedule(rule, event.host, waitMs);
    }
    return fired;
  }

  /** Fire the held event of (rule, host) after `ms`, unless a timer for it runs already. */
  private schedule(rule: EventRule, host: string, ms: number): void {
    const key = JSON.stringify([rule.name, host]);
    if (this.stopped || this.trailing.has(key)) return;
    const timer = setTimeout(
      () => {
        this.trailing.delete(key);
        this.fireHeld(rule, host).catch((err: unknown) =>
          this.o.log(`rule ${rule.name}: the held event of ${host} did not fire: ${errorMessage(err)}`),
        );
      },
      // setTimeout takes at most 2^31-1 ms; a longer debounce is waited out in turns ("wait").
      Math.min(ms, MAX_TIMER_MS),
    );
    timer.unref();
    this.trailing.set(key, timer);
  }

  /** The trailing firing: once the debounce has passed, the held event fires (in one service). */
  private async fireHeld(rule: EventRule, host: string): Promise<RuleFiring | undefined> {
    // The run the first firing started may still go on: the held event waits another debounce
    // rather than fail as E_HOST_BUSY (a run started in between still fails so, audited).
    const [latest] = await this.o.control.history(host, 1);
    if (latest && ACTIVE.has(latest.state)) {
      this.schedule(rule, host, rule.debounceMs);
      return undefined;
    }
    const claim = await this.o.store.claimHeldFiring({ rule: rule.name, host, debounceMs: rule.debounceMs });
    if (claim.kind === "wait") this.schedule(rule, host, claim.ms);
    if (claim.kind !== "fired") return undefined;
    const { firing, event } = claim;
    // An event pruned since it was held (1,000 newer ones) is still worth the firing.
    return this.fire(
      rule,
      event ?? { id: firing.eventId, host, kind: rule.event, at: firing.firedAt, data: {} },
      firing,
      true,
    );
  }

  private async fire(
    rule: EventRule,
    event: NewNodeEvent,
    firing: RuleFiring,
    held = false,
  ): Promise<RuleFiring> {
    const host = event.host;
    const identity = `rule:${rule.name}`;
    const what = `${event.kind}${describeData(event)} on ${host}${held ? " (the last within the debounce)" : ""}`;
    const record = {
      identity,
      network: "rule",
      room: rule.announce[0] ?? "-",
      command: `${rule.pipeline} ${host} (rule ${rule.name}: ${what})`,
    };
    const say = (line: string): void => {
      for (const room of rule.announce) for (const announce of this.announcers) announce(room, line);
    };
    const decision = decide(this.o.acl, {
      identity,
      verb: pipelineVerb(rule.pipeline),
      host,
      configuredRoom: false,
    });
    if (!decision.allowed) {
      this.o.log(`rule ${rule.name}: ${what}: ${decision.reason}`);
      await this.o.store.recordRuleFiringResult(firing, { error: decision.reason });
      await audit(
        this.o.control,
        { ...record, decision: "denied", reason: decision.reason, runId: null },
        this.o.log,
      );
      say(`rule ${rule.name}: ${what}: ${rule.pipeline} refused: ${decision.reason}`);
      return { ...firing, error: decision.reason };
    }
    try {
      const source =
        rule.source?.replaceAll("{host}", host) ?? (await this.o.control.lastSource(host)) ?? `cn=${host}`;
      const [run] = await this.o.control.startAll(
        rule.pipeline,
        source,
        { identity, origin: rule.announce[0] ?? identity },
        { fileAccess: "designs-dirs", ...(decision.approval ? { approval: decision.approval } : {}) },
      );
      const runId = run?.id ?? "";
      await this.o.store.recordRuleFiringResult(firing, { runId });
      await audit(
        this.o.control,
        { ...record, decision: "allowed", reason: decision.reason, runId },
        this.o.log,
      );
      say(`rule ${rule.name}: ${what}: ${rule.pipeline} started (run ${runId})`);
      return { ...firing, runId };
    } catch (err) {
      const message = errorMessage(err).split("\n")[0] ?? "";
      this.o.log(`rule ${rule.name}: ${what}: ${rule.pipeline} could not start: ${message}`);
      await this.o.store.recordRuleFiringResult(firing, { error: message });
      await audit(this.o.control, { ...record, decision: "error", reason: message, runId: null }, this.o.log);
      say(`rule ${rule.name}: ${what}: ${rule.pipeline} could not start: ${message}`);
      return { ...firing, error: message };
    }
  }
}

/** ` /etc/nginx/nginx.conf` or ` (probe nginx)`: what people need to recognise the event. */
function describeData(event: NewNodeEvent): string {
  const { path, probe } = event.data;
  if (typeof path === "string") return ` ${path}`;
  if (typeof probe === "string") return ` (probe ${probe})`;
  return "";
}
