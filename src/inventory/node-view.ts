/**
 * A node as jarvis knows it from its agent: what selectors (`os.family=debian and group=web`),
 * `hosts`, jobs and the `inventory:query` step read. The agents' node store produces these; the
 * selector language and the step only see this shape, so they can be tested over a fixed list.
 */

/** A fact's value: JSON, as the agent reported it. */
export type FactValue = string | number | boolean | null | FactValue[] | { [key: string]: FactValue };

/**
 * A node's facts. Built-in keys: `os: {family, release}`, `kernel`, `arch`, `hostname`, `fqdn`,
 * `ipaddresses: string[]`, `cpus`, `memory: {mb}`, `disks: [{device, mount, size_mb}]`,
 * `packages: {<name>: <version>}`, `services: [{port, proto, process}]`; custom facts (agent.yml
 * and facts.d) sit under their own names.
 */
export type Facts = { [key: string]: FactValue };

/** One node. */
export interface NodeView {
  host: string;
  /** Groups the node belongs to (its agent.yml `groups:`). */
  groups: string[];
  online: boolean;
  /** When its agent was last heard from (ms since the epoch), or null if never. */
  lastSeen: number | null;
  agentVersion: string | null;
  facts: Facts;
}

/** Where nodes come from: the agents' node store in production, a fixed list in unit tests. */
export interface NodeDirectory {
  list(): Promise<NodeView[]>;
  get(host: string): Promise<NodeView | undefined>;
}
