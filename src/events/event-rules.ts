/**
 * The service's events and rules, wired: the intake keeps every agent event in the store and
 * hands new ones to the rules of jarvis.yml.
 */
import type { JarvisConfig } from "../config.js";
import type { NodeDirectory } from "../inventory/node-view.js";
import type { AgentBus } from "../jobs/agent-bus.js";
import type { RunControl } from "../pipeline/run-control.js";
import type { NodeEventStore } from "../store/node-event-store.js";
import { EventIntake } from "./event-intake.js";
import { RuleFirer } from "./rule-firer.js";

export interface EventRules {
  firer: RuleFirer;
  stop(): Promise<void>;
}

export async function startEventRules(o: {
  config: JarvisConfig;
  bus: AgentBus;
  store: NodeEventStore;
  control: RunControl;
  nodes: NodeDirectory;
  log: (line: string) => void;
}): Promise<EventRules> {
  const firer = new RuleFirer({
    rules: o.config.rules,
    store: o.store,
    control: o.control,
    acl: o.config.chat.acl,
    nodes: o.nodes,
    log: o.log,
  });
  const intake = new EventIntake({ bus: o.bus, store: o.store, firer, log: o.log });
  await intake.start();
  return { firer, stop: () => intake.stop() };
}
