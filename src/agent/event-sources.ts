/**
 * Where a node's events come from: watched paths (`file_changed {path}`) and probes (agent.yml
 * `probes:` and the events.d folder). Each event gets an id, the node's name and the time, and
 * goes out on the node's own events subject, the only one NATS lets this agent publish events on.
 */
import { randomUUID } from "node:crypto";
import type { FactValue } from "../inventory/node-view.js";
import type { AgentConfig } from "./agent-config.js";
import { startProbes } from "./event-probes.js";
import type { AgentEvent } from "./protocol.js";
import { watchPaths } from "./watch.js";

export interface EventSources {
  close(): void;
}

export function startEventSources(
  config: AgentConfig,
  send: (event: AgentEvent) => void,
  log: (line: string) => void,
): EventSources {
  const publish = (kind: string, data: Record<string, FactValue>): void => {
    const event: AgentEvent = { id: randomUUID(), node: config.node, kind, at: Date.now(), data };
    log(`event ${kind} ${JSON.stringify(data).slice(0, 200)}`);
    send(event);
  };
  const watching = watchPaths(config.watch.paths, {
    settleMs: config.watch.settleMs,
    onChange: (paths) => paths.forEach((path) => publish("file_changed", { path })),
    log,
  });
  const probing = startProbes(config.probes, config.eventsDir, (e) => publish(e.kind, e.data), log);
  return {
    close() {
      watching.close();
      probing.close();
    },
  };
}
