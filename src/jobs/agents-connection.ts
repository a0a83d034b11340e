/**
 * jarvis's side of the agents' bus from jarvis.yml `agents:`: its NATS connection (NKEY, TLS,
 * reconnecting forever once up), the streams, and the job controller over the node and job stores.
 * Only the service opens it; with replicas, the one holding the job-driving lease reads the agents'
 * replies (see job-control.ts).
 */
import { readFileSync } from "node:fs";
import { connect, nkeyAuthenticator } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { JobError } from "../errors.js";
import { loadPrivateKey } from "../agent/signing.js";
import type { AgentsConfig } from "../nodes/agents-config.js";
import type { FleetStore } from "../nodes/fleet-store.js";
import { AgentBus } from "./agent-bus.js";
import { JobController } from "./job-controller.js";
import { natsConnectProblem } from "../nodes/nats-problem.js";

export interface AgentsConnection {
  controller: JobController;
  bus: AgentBus;
  close(): Promise<void>;
}

export async function openAgentsConnection(
  config: AgentsConfig,
  fleet: FleetStore,
  log: (line: string) => void,
  /** This replica's id (the engine's owner id), as the job-driving lease's owner. */
  owner?: string,
): Promise<AgentsConnection> {
  let seed: Uint8Array;
  let signingKey;
  try {
    seed = new TextEncoder().encode(readFileSync(config.nkeySeedFile, "utf8").trim());
    signingKey = loadPrivateKey(readFileSync(config.signingKeyFile, "utf8"));
  } catch (err) {
    throw new JobError(
      "E_AGENTS_KEYS",
      `agents: cannot read ${config.nkeySeedFile} or ${config.signingKeyFile}: ${(err as Error).message}; see docs/agents.md`,
      { cause: err },
    );
  }
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: config.natsUrls,
      name: "jarvis",
      authenticator: nkeyAuthenticator(seed),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1000,
      // An async stack captured ahead of every request and JetStream publish was a tenth of jarvis's CPU in a fan-out.
      noAsyncTraces: true,
      ...(config.tls
        ? { tls: { caFile: config.tls.ca, certFile: config.tls.cert, keyFile: config.tls.key } }
        : {}),
    });
  } catch (err) {
    throw new JobError(
      "E_AGENTS_CONNECT",
      `agents: cannot connect to ${config.natsUrls.join(", ")}: ${natsConnectProblem(err, config.tls?.ca)}; check agents.nats in jarvis.yml`,
      { cause: err },
    );
  }
  const bus = await AgentBus.open(nc);
  const controller = new JobController({
    bus,
    nodes: fleet.nodes,
    jobs: fleet.jobs,
    control: fleet.control,
    ...(owner === undefined ? {} : { owner }),
    leaseMs: config.jobLeaseMs,
    signingKey,
    log,
  });
  await controller.start();
  return {
    controller,
    bus,
    async close() {
      await controller.stop();
      await nc.close();
    },
  };
}
