/**
 * Whether the agent may act on a delivered request: signed by jarvis, for this node, within its
 * TTL, never seen before, and allowed by agent.yml. Every "no" is a typed refusal the agent
 * reports, never a silent drop.
 */
import type { KeyObject } from "node:crypto";
import { JobRequest, SignedEnvelope } from "./protocol.js";
import type { RefusalReason } from "./protocol.js";
import { verifySignature } from "./signing.js";
import type { AgentConfig } from "./agent-config.js";
import type { SeenRequests } from "./seen-requests.js";

/** How far a request's issued-at may lie in the future (clock skew between jarvis and a node). */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

export type GuardDecision =
  | { kind: "accept"; request: JobRequest }
  /** The bus delivered again what this node already has: ACK it, do not run it. */
  | { kind: "redelivered"; request: JobRequest }
  | { kind: "refuse"; requestId: string | null; reason: RefusalReason; message: string };

export interface GuardContext {
  node: string;
  key: KeyObject;
  allow: AgentConfig["allow"];
  seen: SeenRequests;
  now: number;
  streamSeq: number;
}

export function checkRequest(data: Uint8Array, ctx: GuardContext): GuardDecision {
  let envelope: SignedEnvelope;
  try {
    envelope = SignedEnvelope.parse(JSON.parse(new TextDecoder().decode(data)));
  } catch {
    return refuse(null, "malformed", "the request is not a signed envelope");
  }
  const unverifiedId = idOf(envelope.payload);
  if (!envelope.signature) return refuse(unverifiedId, "unsigned", "the request carries no signature");
  if (!verifySignature(envelope.payload, envelope.signature, ctx.key)) {
    return refuse(unverifiedId, "forged", "the signature is not jarvis's (wrong key or altered request)");
  }
  const parsed = JobRequest.safeParse(JSON.parse(envelope.payload));
  if (!parsed.success) return refuse(unverifiedId, "malformed", "the signed request has an unknown shape");
  const request = parsed.data;
  if (request.target !== ctx.node) {
    return refuse(request.id, "wrong-target", `the request is for ${request.target}, this is ${ctx.node}`);
  }
  const known = ctx.seen.get(request.id);
  if (known) {
    if (known.streamSeq === ctx.streamSeq) return { kind: "redelivered", request };
    return refuse(request.id, "replayed", "this request id was already taken; a request runs once");
  }
  if (request.issuedAt > ctx.now + MAX_CLOCK_SKEW_MS) {
    return refuse(
      request.id,
      "expired",
      "the request is issued in the future; check the clocks of jarvis and this node",
    );
  }
  if (request.issuedAt + request.ttlMs < ctx.now) {
    return refuse(
      request.id,
      "expired",
      `the request's TTL ran out ${Math.round((ctx.now - request.issuedAt - request.ttlMs) / 1000)} s ago`,
    );
  }
  const op = request.operation;
  if (!ctx.allow.operations.has(op.kind)) {
    return refuse(request.id, "not-allowed", `operation ${op.kind} is not in this node's allow.operations`);
  }
  if (op.kind === "execute" && ctx.allow.commands && !ctx.allow.commands.some((re) => re.test(op.command))) {
    return refuse(request.id, "not-allowed", "the command matches none of this node's allow.commands");
  }
  return { kind: "accept", request };
}

function refuse(requestId: string | null, reason: RefusalReason, message: string): GuardDecision {
  return { kind: "refuse", requestId, reason, message };
}

/** The id of a payload not yet trusted: only to name the request in a refusal. */
function idOf(payload: string): string | null {
  try {
    const value: unknown = JSON.parse(payload);
    if (value && typeof value === "object" && "id" in value && typeof value.id === "string")
      return value.id.slice(0, 64);
  } catch {
    // An unreadable payload has no id to report.
  }
  return null;
}
