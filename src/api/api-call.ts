/**
 * How a route hands its request to the dispatcher: the token's principal as the caller, the
 * request line as the audited command, and the reply back as data; refusals and failures are
 * thrown as typed errors for the one error handler (http-errors.ts) to answer.
 */
import type { FastifyRequest } from "fastify";
import { ApiError } from "../errors.js";
import type { Dispatcher, Caller } from "../commands/dispatcher.js";
import type { Reply } from "../commands/reply.js";
import type { TypedCommand } from "../commands/typed-command.js";
import type { ApiPrincipal } from "./api-tokens.js";

/** A reply that is not a refusal or failure. */
export type ApiAnswer = Exclude<Reply, { kind: "refused" } | { kind: "failed" }>;

declare module "fastify" {
  interface FastifyRequest {
    /** Who the request's token names (set by the auth hook; absent on open routes). */
    principal?: ApiPrincipal;
  }
}

/** The dispatcher's caller for an API request. */
export function apiCaller(principal: ApiPrincipal): Caller {
  return {
    identity: principal.identity,
    label: principal.identity,
    network: "api",
    room: "http",
    origin: "api",
    configuredRoom: false,
    localOperator: principal.localOperator,
  };
}

/** Dispatch `command` for `request`, expecting a reply of `kind`. */
export async function callDispatcher<K extends ApiAnswer["kind"]>(
  dispatcher: Dispatcher,
  request: FastifyRequest,
  command: TypedCommand,
  kind: K,
): Promise<Extract<ApiAnswer, { kind: K }>> {
  const principal = request.principal;
  if (!principal)
    throw new ApiError("E_API_UNAUTHORIZED", "no API token; send Authorization: Bearer <token>");
  const reply = await dispatcher.dispatch({
    front: "api",
    caller: apiCaller(principal),
    input: { command, text: `${request.method} ${request.url}` },
  });
  if (reply.kind === "failed") throw reply.error;
  if (reply.kind === "refused") {
    const code =
      reply.why === "denied" ? "E_DENIED" : reply.why === "rate-limited" ? "E_RATE_LIMITED" : "E_USAGE";
    throw new ApiError(code, reply.message);
  }
  if (!isKind(reply, kind)) throw new Error(`${command.verb} answered ${reply.kind}, not ${kind}`);
  return reply;
}

function isKind<K extends ApiAnswer["kind"]>(
  reply: ApiAnswer,
  kind: K,
): reply is Extract<ApiAnswer, { kind: K }> {
  return reply.kind === kind;
}
