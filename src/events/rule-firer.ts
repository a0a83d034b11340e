/**
 * What a kept event sets off: each rule it matches fires for the event's node at most once per
 * debounce (a compare-and-set on the rule's last firing in the store, so a restart or a second
 * service does not fire it again), on behalf of `rule:<name>`. The ACL decides as for a person
 * (the rule's identity needs a role allowing the pipeline's verb on the node); the firing is
 * audited whatever came of it, and announced in the rule's rooms.
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
  control: Pick<RunControl, "startAll" | "lastSource" | "recordAudit">;
  acl: AclPolicy;
  nodes: NodeDirectory;
  log: (line: string) => void;
}

export class RuleFirer {
  private readonly announcers = new Set<Announcer>();

  constructor(private readonly o: RuleFirerOptions) {}

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
      if (!firing) continue; // fired for this node within its debounce, here or by another service
      fired.push(await this.fire(rule, event, firing));
    }
    return fired;
  }

  private async fire(rule: EventRule, event: NewNodeEvent, firing: RuleFiring): Promise<RuleFiring> {
    const host = event.host;
    const identity = `rule:${rule.name}`;
    const what = `${event.kind}${describeData(event)} on ${host}`;
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
