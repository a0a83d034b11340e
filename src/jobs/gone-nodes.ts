/**
 * Which nodes holding a request are gone, not just late: their heartbeats stopped (`silent`) and
 * nats-server no longer has their subscription (`subscribed` is its answer for those nodes).
 * Only a node that was asked about can be judged: one that took its request while the question
 * was out (queued then, received now) has no answer, and its missing heartbeats alone say nothing.
 */
export function goneNodes(silent: readonly string[], subscribed: ReadonlySet<string>): Set<string> {
  return new Set(silent.filter((host) => !subscribed.has(host)));
}
