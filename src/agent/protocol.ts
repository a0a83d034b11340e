/**
 * Every message between jarvis and its agents, as zod schemas: one module, so both sides parse
 * the same shapes. Subjects carry the node's name, and NATS permissions tie each agent to its own
 * subjects, so jarvis believes the subject's host, never a host written in a payload.
 *
 *   jarvis -> agent   jarvis.req.<node>      signed requests, kept in the JARVIS_REQUESTS stream;
 *                                            each node's durable consumer delivers them on
 *                     jarvis.deliver.<node>  (so a job for an offline node waits for it)
 *   agent -> jarvis   jarvis.reply.<node>    ack | running | result | refusal (JARVIS_AGENTS stream)
 *                     jarvis.facts.<node>    facts, at start and when their hash changes (stream)
 *                     jarvis.event.<node>    events (stream)
 *                     jarvis.hb.<node>       heartbeats (core NATS: only the latest matters)
 */
import { z } from "zod";
import type { FactValue as FactValueType } from "../inventory/node-view.js";

/** The operations an agent knows; its agent.yml allowlist names a subset. */
export const OPERATION_KINDS = ["ping", "facts", "execute", "service", "script", "cancel"] as const;
export type OperationKind = (typeof OPERATION_KINDS)[number];

export const SERVICE_STATES = ["started", "stopped", "restarted"] as const;

export const Operation = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("ping") }),
  z.object({ kind: z.literal("facts") }),
  z.object({ kind: z.literal("execute"), command: z.string().min(1).max(8192) }),
  z.object({
    kind: z.literal("service"),
    name: z.string().regex(/^[A-Za-z0-9@._-]{1,128}$/),
    state: z.enum(SERVICE_STATES),
  }),
  z.object({
    kind: z.literal("script"),
    /** What the script is called where it came from, for logs and the audit. */
    name: z.string().max(256),
    body: z.string().max(1_000_000),
  }),
  /** Stop a request the node is running (its process group is killed). */
  z.object({ kind: z.literal("cancel"), requestId: z.string() }),
]);
export type Operation = z.infer<typeof Operation>;

/** What jarvis signs: everything the agent acts on. */
export const JobRequest = z.object({
  id: z.string().min(8).max(64),
  jobId: z.string().max(64),
  /** The node this request is for; an agent refuses a request for another node. */
  target: z.string(),
  issuedAt: z.number().int(),
  /** After issuedAt + ttlMs the request is refused as expired. */
  ttlMs: z.number().int().positive(),
  /** How long the node-side process may run before its process group is killed. */
  timeoutMs: z.number().int().positive(),
  operation: Operation,
});
export type JobRequest = z.infer<typeof JobRequest>;

/**
 * A request on the wire. The signature covers the exact bytes of `payload` (a JSON text of a
 * JobRequest), so neither side has to agree on a canonical JSON form.
 */
export const SignedEnvelope = z.object({
  payload: z.string(),
  /** ed25519 signature of `payload`, base64; absent on an unsigned (and refused) request. */
  signature: z.string().optional(),
});
export type SignedEnvelope = z.infer<typeof SignedEnvelope>;

/** Why an agent refused a request. */
export const REFUSAL_REASONS = [
  "unsigned",
  "forged",
  "malformed",
  "expired",
  "replayed",
  "wrong-target",
  "not-allowed",
] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** How a node's part of a job ended, as the agent saw it. */
export const RESULT_STATES = ["ok", "changed", "failed"] as const;

export const AgentReply = z.discriminatedUnion("kind", [
  /** The node has the request (the per-node ACK). */
  z.object({
    kind: z.literal("ack"),
    requestId: z.string(),
    at: z.number(),
    /**
     * It started at once, so no `running` reply follows: one message per node less through the
     * replies' stream in a fan-out. Absent from older agents, which send `running` on its own.
     */
    running: z.boolean().optional(),
  }),
  z.object({ kind: z.literal("running"), requestId: z.string(), at: z.number() }),
  z.object({
    kind: z.literal("result"),
    requestId: z.string(),
    at: z.number(),
    state: z.enum(RESULT_STATES),
    exitCode: z.number().int().nullable(),
    stdoutTail: z.string(),
    stderrTail: z.string(),
    message: z.string(),
  }),
  z.object({
    kind: z.literal("refusal"),
    /** The request's id when it could be read at all. */
    requestId: z.string().nullable(),
    at: z.number(),
    reason: z.enum(REFUSAL_REASONS),
    message: z.string(),
  }),
]);
export type AgentReply = z.infer<typeof AgentReply>;

export const Heartbeat = z.object({
  version: z.string(),
  at: z.number(),
  groups: z.array(z.string()),
  factsHash: z.string(),
  /** Seconds between heartbeats, so jarvis knows when this node counts as offline. */
  intervalS: z.number().positive(),
});
export type Heartbeat = z.infer<typeof Heartbeat>;

const FactValue: z.ZodType<FactValueType> = z.lazy(() =>
  z.union([
    z.string(),
    z.number(),
    z.boolean(),
    z.null(),
    z.array(FactValue),
    z.record(z.string(), FactValue),
  ]),
);

export const FactsMessage = z.object({
  at: z.number(),
  hash: z.string(),
  groups: z.array(z.string()),
  facts: z.record(z.string(), FactValue),
});
export type FactsMessage = z.infer<typeof FactsMessage>;

/** An event's kind: `file_changed`, `service_down`, or a name a probe chose. */
export const EVENT_KIND = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

/**
 * What happened on a node (a watched file changed, a probe reported). `node` must be the node of
 * the subject it came on: jarvis refuses one that names another node.
 */
export const AgentEvent = z.object({
  /** Unique per event: jarvis keeps an event once however often the stream delivers it. */
  id: z.string().min(8).max(64),
  node: z.string(),
  kind: z.string().regex(EVENT_KIND),
  at: z.number(),
  data: z.record(z.string(), FactValue),
});
export type AgentEvent = z.infer<typeof AgentEvent>;

/** Stream and subject names, in one place. */
export const REQUEST_STREAM = "JARVIS_REQUESTS";
export const AGENT_STREAM = "JARVIS_AGENTS";

/**
 * A node's name as one subject token (and consumer name). Host names never contain `_`, so
 * mapping `.` to `_` cannot make two hosts collide.
 */
export function nodeToken(host: string): string {
  return host.replaceAll(".", "_");
}

export function isNodeName(host: string): boolean {
  return (
    /^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/.test(host) && host.length <= 253
  );
}

export const subjects = {
  request: (host: string) => `jarvis.req.${nodeToken(host)}`,
  deliver: (host: string) => `jarvis.deliver.${nodeToken(host)}`,
  reply: (host: string) => `jarvis.reply.${nodeToken(host)}`,
  facts: (host: string) => `jarvis.facts.${nodeToken(host)}`,
  event: (host: string) => `jarvis.event.${nodeToken(host)}`,
  heartbeat: (host: string) => `jarvis.hb.${nodeToken(host)}`,
  consumer: (host: string) => `agent_${nodeToken(host)}`,
  /** Where a node acknowledges JetStream deliveries. */
  jsAck: (host: string) => `$JS.ACK.${REQUEST_STREAM}.agent_${nodeToken(host)}.>`,
} as const;

/** The node a `jarvis.<kind>.<token>` subject belongs to (tokens map back: `_` -> `.`). */
export function nodeOfSubject(subject: string): string | undefined {
  const parts = subject.split(".");
  if (parts.length !== 3 || parts[0] !== "jarvis") return undefined;
  return parts[2]!.replaceAll("_", ".");
}

/**
 * NATS permissions for one agent: it may receive only its own deliveries and publish only its
 * own replies, facts, events, heartbeats and JetStream ACKs. Written into nats-server's config
 * by `agent:install` and shown in docs/agents.md.
 */
export function agentPermissions(host: string): { publish: string[]; subscribe: string[] } {
  return {
    publish: [
      subjects.reply(host),
      subjects.facts(host),
      subjects.event(host),
      subjects.heartbeat(host),
      subjects.jsAck(host),
    ],
    subscribe: [subjects.deliver(host)],
  };
}
