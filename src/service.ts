/**
 * Opens one jarvis: the store, the step catalog, the engine and the run service, wired together.
 * The CLI, `jarvis start` (with the chat front) and tests all start here.
 */
import { openStore } from "./store/registry.js";
import { createExecutors } from "./pipeline/executors/registry.js";
import { createStepCatalog } from "./pipeline/step-catalog.js";
import { createDesignSources } from "./clipboard/sources/registry.js";
import { Engine } from "./pipeline/engine.js";
import { RunService } from "./pipeline/run-service.js";
import type { JarvisConfig } from "./config.js";
import type { RunStore } from "./store/run-store.js";
import type { StepResolver } from "./pipeline/step-catalog.js";
import type { NodeDirectory } from "./inventory/node-view.js";
import { nodeDirectoryFromConfig } from "./inventory/config-nodes.js";
import { openFleetStore } from "./nodes/fleet-store.js";
import { openAgentsConnection } from "./jobs/agents-connection.js";
import type { JobDesk } from "./commands/job-execute.js";
import { startEventRules } from "./events/event-rules.js";
import type { RuleFirer } from "./events/rule-firer.js";

/** An open jarvis. */
export interface Jarvis {
  config: JarvisConfig;
  store: RunStore;
  resolver: StepResolver;
  engine: Engine;
  control: RunService;
  /** The nodes agents report (`hosts`, selectors); undefined until a node store is configured. */
  nodes: NodeDirectory | undefined;
  /**
   * Remote-execution jobs over the agents: only in the service (`execute`) with `agents:` in
   * jarvis.yml, where the job controller reads the agents' replies.
   */
  jobs: JobDesk | undefined;
  /** The rules that map agents' events to pipelines (the service with `agents:`): announcements. */
  rules: RuleFirer | undefined;
  /** Stop executing (in-flight steps are stopped and resumed by the next process) and close the store. */
  close(): Promise<void>;
}

/** Options for openJarvis. */
export interface OpenOptions {
  /** Lease owner id (tests use distinct ones to act as several processes). */
  owner?: string;
  /** Execute queued and interrupted runs in this process (the `jarvis start` service). */
  execute?: boolean;
  /** How often the service looks for queued runs from other processes. */
  pollMs?: number;
  /**
   * The node directory `hosts` answers from; by default the one jarvis.yml names for
   * `inventory:query` (the agents' node store will take that place). Tests hand a fixed one.
   */
  nodes?: NodeDirectory;
  /** Where the job controller reports (agents' refusals, malformed messages). */
  log?: (line: string) => void;
}

/** Open jarvis on the given configuration. */
export async function openJarvis(config: JarvisConfig, options: OpenOptions = {}): Promise<Jarvis> {
  const store = await openStore(config.store);
  const resolver = createStepCatalog({ stepsDirs: config.steps.dirs });
  const executors = createExecutors(config, resolver);
  const engine = new Engine({
    config,
    store,
    executors,
    ...(options.owner ? { owner: options.owner } : {}),
  });
  const control = new RunService({
    config,
    store,
    engine,
    resolver,
    sources: createDesignSources(config),
    executing: options.execute ?? false,
  });
  // With agents configured, their node store is where `hosts` and selectors look. It lives
  // beside the runs, in the store jarvis.yml names, so replicas on PostgreSQL share nodes and jobs.
  const fleet = config.agents
    ? await openFleetStore(config.store).catch(async (err: unknown) => {
        await store.close();
        throw err;
      })
    : undefined;
  const agents =
    config.agents && fleet && options.execute
      ? await openAgentsConnection(
          config.agents,
          fleet,
          options.log ?? (() => undefined),
          engine.owner,
        ).catch(async (err: unknown) => {
          await fleet.close();
          await store.close();
          throw err;
        })
      : undefined;
  const events =
    agents && fleet
      ? await startEventRules({
          config,
          bus: agents.bus,
          store,
          control,
          nodes: fleet.nodes,
          log: options.log ?? (() => undefined),
        })
      : undefined;
  if (options.execute) engine.startService(options.pollMs);
  let closed = false;
  return {
    config,
    store,
    resolver,
    engine,
    control,
    nodes: options.nodes ?? fleet?.nodes ?? nodeDirectoryFromConfig(config),
    jobs:
      agents && config.agents && fleet
        ? {
            controller: agents.controller,
            store: fleet.jobs,
            ttlMs: config.agents.jobTtlMs,
            timeoutMs: config.agents.jobTimeoutMs,
          }
        : undefined,
    rules: events?.firer,
    async close() {
      if (closed) return;
      closed = true;
      await events?.stop();
      await agents?.close();
      await engine.close({ abandon: true });
      await executors.close();
      await store.close();
      await fleet?.close();
    },
  };
}
