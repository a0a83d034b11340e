/**
 * The service's events and rules, wired: the intake keeps every agent event in the store and
 * hands new ones to the rules of jarvis.yml.
 */
import type { JarvisConfig } from "../config.js";
import type { NodeDirectory } from "../inventory/node-view.js";
import type { AgentBus } from "../jobs/agent-bus.js";
import type { RunControl } from "../pipeline/run-control.js";
import type { NodeEventStore } from "../store/node-event-store.js";
import { errorMessage } from "../errors.js";
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
  await warnOfUnknownPipelines(o.config, o.control, o.log);
  const intake = new EventIntake({ bus: o.bus, store: o.store, firer, log: o.log });
  await intake.start();
  await firer.resume();
  return {
    firer,
    stop: async () => {
      firer.stop();
      await intake.stop();
    },
  };
}

/** A rule naming no pipeline fails each firing (audited); say so at start, where it is fixed. */
async function warnOfUnknownPipelines(
  config: JarvisConfig,
  control: RunControl,
  log: (line: string) => void,
): Promise<void> {
  let known: Set<string>;
  try {
    known = new Set((await control.pipelines()).map((p) => p.name));
  } catch (err) {
    return log(`rules: cannot list the pipelines to check the rules against: ${errorMessage(err)}`);
  }
  for (const rule of config.rules) {
    if (!known.has(rule.pipeline))
      log(
        `rules: rule ${rule.name} runs '${rule.pipeline}', which is no pipeline jarvis has (see: pipelines); its firings fail until there is one`,
      );
  }
}
