/**
 * `jarvis agent`: one node's side of the bus. It connects out (NKEY, TLS when configured),
 * retries forever, heartbeats, publishes its facts when their hash changes, and runs the signed
 * requests its durable consumer delivers, answering each with ACK, running and a result, or a
 * refusal.
 */
import { connect, nkeyAuthenticator } from "@nats-io/transport-node";
import type { Msg, NatsConnection } from "@nats-io/transport-node";
import { setImmediate as nextTurn, setInterval as every, setTimeout as sleep } from "node:timers/promises";
import type { Facts } from "../inventory/node-view.js";
import type { AgentConfig } from "./agent-config.js";
import { AGENT_VERSION } from "./agent-version.js";
import { natsConnectProblem } from "../nodes/nats-problem.js";
import { collectFacts, factsHash } from "./facts.js";
import { runOperation } from "./operations.js";
import { subjects } from "./protocol.js";
import type { AgentReply, FactsMessage, Heartbeat, JobRequest } from "./protocol.js";
import { checkRequest } from "./request-guard.js";
import { startEventSources } from "./event-sources.js";
import { SeenRequests } from "./seen-requests.js";
import { loadPublicKey } from "./signing.js";

export { AGENT_VERSION };

export interface AgentOptions {
  /** System facts collected once and shared (the emulator's many agents in one process). */
  systemFacts?: Facts;
  log?: (line: string) => void;
}

export interface RunningAgent {
  readonly node: string;
  /** Resolves when the connection is closed for good. */
  closed: Promise<void>;
  stop(): Promise<void>;
}

export async function startAgent(config: AgentConfig, options: AgentOptions = {}): Promise<RunningAgent> {
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const key = loadPublicKey(config.jarvisPublicKey);
  const seen = new SeenRequests(config.stateDir);
  const nc = await connectForever(config, log);
  const stopping = new AbortController();
  const running = new Map<string, AbortController>();
  const encode = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));
  const reply = (r: AgentReply): void => nc.publish(subjects.reply(config.node), encode(r));

  let hash = "";
  const refreshFacts = async (): Promise<string> => {
    const facts = await collectFacts(config.facts, options.systemFacts);
    const next = factsHash(facts);
    if (next !== hash) {
      hash = next;
      const message: FactsMessage = { at: Date.now(), hash, groups: config.groups, facts };
      nc.publish(subjects.facts(config.node), encode(message));
    }
    return hash;
  };
  const heartbeat = (): void => {
    const beat: Heartbeat = {
      version: AGENT_VERSION,
      at: Date.now(),
      groups: config.groups,
      factsHash: hash,
      intervalS: config.heartbeatMs / 1000,
    };
    nc.publish(subjects.heartbeat(config.node), encode(beat));
  };

  // A request that was running when this agent last stopped is reported, never run again.
  for (const id of seen.unfinished()) {
    reply({
      kind: "result",
      requestId: id,
      at: Date.now(),
      state: "failed",
      exitCode: null,
      stdoutTail: "",
      stderrTail: "",
      message: "the agent stopped while this ran; not run again",
    });
    seen.finish(id);
  }

  const execute = async (request: JobRequest): Promise<void> => {
    const op = request.operation;
    if (op.kind === "cancel") {
      const target = running.get(op.requestId);
      target?.abort();
      reply({
        kind: "result",
        requestId: request.id,
        at: Date.now(),
        state: target ? "changed" : "ok",
        exitCode: null,
        stdoutTail: "",
        stderrTail: "",
        message: target ? `cancelled ${op.requestId}` : `${op.requestId} is not running here`,
      });
      return;
    }
    const abort = new AbortController();
    running.set(request.id, abort);
    // The ACK just published is written out when this turn's work is done, and node's spawn()
    // holds the event loop until the child has exec'd: run after the ACK has left, not before.
    await nextTurn();
    if (stopping.signal.aborted) {
      // Stopping: not started, and left unfinished in the journal, so the next start reports it.
      running.delete(request.id);
      return;
    }
    try {
      const result = await runOperation(op, {
        config,
        timeoutMs: Math.min(request.timeoutMs, config.maxTimeoutMs),
        signal: abort.signal,
        refreshFacts,
      });
      reply({ kind: "result", requestId: request.id, at: Date.now(), ...result });
    } catch (err) {
      reply({
        kind: "result",
        requestId: request.id,
        at: Date.now(),
        state: "failed",
        exitCode: null,
        stdoutTail: "",
        stderrTail: "",
        message: `agent error: ${(err as Error).message}`,
      });
    } finally {
      running.delete(request.id);
      seen.finish(request.id);
    }
  };

  const receive = (msg: Msg): void => {
    const streamSeq = ackStreamSeq(msg.reply);
    const decision = checkRequest(msg.data, {
      node: config.node,
      key,
      allow: config.allow,
      seen,
      now: Date.now(),
      streamSeq,
    });
    const ackDelivery = (): void => {
      if (msg.reply) nc.publish(msg.reply, "+ACK");
    };
    switch (decision.kind) {
      case "refuse":
        ackDelivery();
        log(`refused request ${decision.requestId ?? "?"}: ${decision.reason}: ${decision.message}`);
        reply({
          kind: "refusal",
          requestId: decision.requestId,
          at: Date.now(),
          reason: decision.reason,
          message: decision.message,
        });
        return;
      case "redelivered":
        ackDelivery();
        return;
      case "accept": {
        const { request } = decision;
        seen.add(
          request.id,
          { expiresAt: request.issuedAt + request.ttlMs, streamSeq, finished: false },
          Date.now(),
        );
        ackDelivery();
        // It starts now: the ACK says running too.
        reply({ kind: "ack", requestId: request.id, at: Date.now(), running: true });
        void execute(request);
      }
    }
  };

  const sub = nc.subscribe(subjects.deliver(config.node), {
    callback: (err, msg) => (err ? log(`subscription: ${err.message}`) : receive(msg)),
  });
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect" || s.type === "reconnect" || s.type === "error") {
        log(
          `nats ${s.type}${"server" in s ? ` ${s.server}` : ""}${s.type === "error" ? `: ${s.error.message}` : ""}`,
        );
      }
      // Back on the bus: say so at once, and send facts again in case jarvis lost them.
      if (s.type === "reconnect") heartbeat();
    }
  })();
  await refreshFacts();
  heartbeat();
  void (async () => {
    try {
      for await (const _ of every(config.heartbeatMs, undefined, { signal: stopping.signal })) heartbeat();
    } catch (err) {
      if (!stopping.signal.aborted) throw err;
    }
  })();
  void (async () => {
    try {
      for await (const _ of every(config.facts.refreshMs, undefined, { signal: stopping.signal })) {
        // A facts.d program or dpkg failing once must not stop the agent: the next round retries.
        await refreshFacts().catch((err: unknown) => log(`facts: ${(err as Error).message}`));
      }
    } catch (err) {
      if (!stopping.signal.aborted) throw err;
    }
  })();
  const events = startEventSources(
    config,
    (event) => nc.publish(subjects.event(config.node), encode(event)),
    log,
  );
  log(`agent ${config.node} ${AGENT_VERSION} connected to ${nc.getServer()}`);

  return {
    node: config.node,
    closed: nc.closed().then(() => undefined),
    async stop() {
      stopping.abort();
      events.close();
      for (const abort of running.values()) abort.abort();
      sub.unsubscribe();
      await nc.drain();
      seen.close();
    },
  };
}

/**
 * The first connection, tried until it works, every failure logged: a refused socket, an
 * authentication error (a busy server answers a burst of connects with "Authentication Timeout";
 * a new agent may start before nats-server has reloaded its user), a certificate the CA does not
 * vouch for. (nats.js's waitOnFirstConnect would retry some of these silently, and an operator
 * must see why an agent is not up.) An agent must come up whenever the bus does.
 */
async function connectForever(config: AgentConfig, log: (line: string) => void): Promise<NatsConnection> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await connect({
        servers: config.natsUrls,
        name: `jarvis-agent ${config.node}`,
        authenticator: nkeyAuthenticator(config.nkeySeed),
        maxReconnectAttempts: -1,
        reconnectTimeWait: 1000,
        // No async stack captured ahead of every request: many agents share one emulator process.
        noAsyncTraces: true,
        ...(config.tls
          ? { tls: { caFile: config.tls.ca, certFile: config.tls.cert, keyFile: config.tls.key } }
          : {}),
      });
    } catch (err) {
      const waitMs = Math.min(30_000, 500 * 2 ** Math.min(attempt, 6));
      log(
        `agent ${config.node}: cannot connect to ${config.natsUrls.join(", ")} (${natsConnectProblem(err, config.tls?.ca)}); retrying in ${waitMs} ms`,
      );
      await sleep(waitMs * (0.5 + Math.random() / 2));
    }
  }
}

/** The stream sequence in a JetStream delivery's reply subject ($JS.ACK.<stream>.<consumer>.<n>.<sseq>...). */
function ackStreamSeq(reply: string | undefined): number {
  const parts = reply?.split(".") ?? [];
  return parts[0] === "$JS" && parts[1] === "ACK" ? Number(parts[5] ?? -1) : -1;
}
