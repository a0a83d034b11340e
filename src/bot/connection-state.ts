/**
 * The typed connection state every chat adapter reports (DESIGN.md convention 3). Each adapter
 * turns its library's own quirks (irc-framework giving up after 3 retries, @xmpp/reconnect trying
 * once, matrix-bot-sdk retrying silently) into this one union, so the bot and the tests can follow
 * any network the same way.
 */

/** Where an adapter's connection stands. */
export type ConnectionState =
  | { kind: "connecting" }
  | { kind: "connected" }
  | { kind: "reconnecting"; attempt: number; waitMs: number; reason: string }
  | { kind: "closed" };

/** Delay before reconnect attempt `attempt` (1-based): doubling from 1 s, capped, with jitter. */
export function backoffMs(attempt: number, capMs = 60_000, baseMs = 1_000): number {
  const exp = Math.min(capMs, baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 20));
  // Up to a quarter of jitter so many bots restarted together do not reconnect in lockstep.
  return Math.round(exp * (0.75 + Math.random() * 0.25));
}

/** One line for logs: "irc: reconnecting (attempt 3, in 4000 ms): socket closed". */
export function describeState(network: string, state: ConnectionState): string {
  switch (state.kind) {
    case "reconnecting":
      return `${network}: reconnecting (attempt ${state.attempt}, in ${state.waitMs} ms): ${state.reason}`;
    default:
      return `${network}: ${state.kind}`;
  }
}
