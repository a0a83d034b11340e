/**
 * agent:install's last word: the new agent's first heartbeat, seen on the bus as jarvis sees it
 * (jarvis's own NKEY user). The subscription is made only once the old agent is stopped, so a
 * heartbeat it sent cannot pass for the new one's.
 */
import { readFileSync } from "node:fs";
import { connect, nkeyAuthenticator } from "@nats-io/transport-node";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { StepFailure } from "../step-sdk/define-step.js";
import { Heartbeat, subjects } from "../agent/protocol.js";
import type { AgentInstallSettings } from "./agent-install-settings.js";
import { natsConnectProblem } from "../nodes/nats-problem.js";

export interface HeartbeatWatch {
  /** Start listening for the node's heartbeats (call after the old agent stopped). */
  listen(): Promise<void>;
  /** The first heartbeat after listen(), or undefined when none came within `timeoutMs`. */
  first(timeoutMs: number, signal: AbortSignal): Promise<Heartbeat | undefined>;
  close(): Promise<void>;
}

export async function watchHeartbeats(s: AgentInstallSettings): Promise<HeartbeatWatch> {
  let seed: Uint8Array;
  try {
    seed = new TextEncoder().encode(readFileSync(s.jarvisSeedFile, "utf8").trim());
  } catch (err) {
    throw new StepFailure(
      "E_AGENT_KEYS",
      `agent: cannot read jarvis's NKEY seed ${s.jarvisSeedFile}: ${(err as Error).message}; check modules.agent.with.nats.nkey_seed_file`,
    );
  }
  const tls = s.jarvisNats.tls;
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: s.jarvisNats.urls,
      name: `jarvis agent:install ${s.node}`,
      authenticator: nkeyAuthenticator(seed),
      ...(tls ? { tls: { caFile: tls.ca, certFile: tls.cert, keyFile: tls.key } } : {}),
    });
  } catch (err) {
    throw new StepFailure(
      "E_AGENT_BUS",
      `agent: cannot connect to ${s.jarvisNats.urls.join(", ")} to see the agent come online: ${natsConnectProblem(err, tls?.ca)}; check modules.agent.with.nats`,
      { retryable: true },
    );
  }
  let sub: Subscription | undefined;
  return {
    async listen() {
      sub = nc.subscribe(subjects.heartbeat(s.node));
      // The server has the subscription before the new agent can send anything.
      await nc.flush();
    },
    async first(timeoutMs, signal) {
      if (!sub) throw new Error("listen() before first()");
      const current = sub;
      const timer = setTimeout(() => current.unsubscribe(), timeoutMs);
      const onAbort = (): void => current.unsubscribe();
      signal.addEventListener("abort", onAbort, { once: true });
      try {
        for await (const msg of current) {
          const beat = Heartbeat.safeParse(safeJson(msg.string()));
          if (beat.success) return beat.data;
        }
        return undefined;
      } finally {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
      }
    },
    async close() {
      await nc.close();
    },
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
