/**
 * Clusters: a design may hold `instances:` (a list of instance mappings, each like the single-host
 * `instance:`, with an optional `after: [hostname, ...]`) instead of `instance:`. planCluster splits
 * it into one single-host design per member, ordered so that every host comes after the hosts it
 * waits for; each member then becomes its own run, started once the runs it is `after` succeeded.
 */
import { DesignError } from "../errors.js";

/** One host of a cluster: its own single-host design and the hosts whose runs must succeed first. */
export interface ClusterMember {
  host: string;
  design: Record<string, unknown>;
  after: string[];
}

/**
 * Split a design into single-host designs in dependency order. A design with `instance:` is a
 * cluster of one. Unknown `after` names, duplicates and cycles are DesignErrors naming file:line.
 */
export function planCluster(
  design: Record<string, unknown>,
  source: string,
  lineOf?: (path: (string | number)[]) => number | undefined,
): ClusterMember[] {
  const at = (path: (string | number)[]): string => `${source}:${lineOf?.(path) ?? 1}`;
  const { instances, ...shared } = design;
  if (instances === undefined) {
    const instance = design.instance;
    if (!instance || typeof instance !== "object" || Array.isArray(instance)) {
      throw new DesignError(
        "E_DESIGN_FIELD",
        `${at(["instance"])}: the design needs an 'instance:' mapping (or an 'instances:' list for a cluster)`,
      );
    }
    const host = (instance as Record<string, unknown>).hostname;
    if (typeof host !== "string" || host === "") {
      throw new DesignError(
        "E_DESIGN_FIELD",
        `${at(["instance", "hostname"])}: instance.hostname is missing; every design names its host`,
      );
    }
    return [{ host, design, after: [] }];
  }
  if (design.instance !== undefined) {
    throw new DesignError(
      "E_DESIGN_FIELD",
      `${at(["instance"])}: the design has both 'instance:' and 'instances:'; keep one (a cluster lists all its hosts under 'instances:')`,
    );
  }
  if (!Array.isArray(instances) || instances.length === 0) {
    throw new DesignError(
      "E_DESIGN_FIELD",
      `${at(["instances"])}: 'instances:' must be a non-empty list of instance mappings`,
    );
  }
  const members: ClusterMember[] = [];
  const lines = new Map<string, number>();
  instances.forEach((item: unknown, index) => {
    if (!item || typeof item !== "object" || Array.isArray(item)) {
      throw new DesignError(
        "E_DESIGN_FIELD",
        `${at(["instances", index])}: instances[${index}] must be a mapping like 'instance:' (hostname, provider, size, ...)`,
      );
    }
    const { after, ...instance } = item as Record<string, unknown>;
    const host = instance.hostname;
    if (typeof host !== "string" || host === "") {
      throw new DesignError(
        "E_DESIGN_FIELD",
        `${at(["instances", index])}: instances[${index}].hostname is missing; every cluster member names its host`,
      );
    }
    if (lines.has(host)) {
      throw new DesignError(
        "E_DESIGN_FIELD",
        `${at(["instances", index, "hostname"])}: instances[${index}].hostname '${host}' is already used by instances[${lines.get(host)}]; hostnames in a cluster are unique`,
      );
    }
    lines.set(host, index);
    const afterList =
      after === undefined || after === null ? [] : typeof after === "string" ? [after] : after;
    if (!Array.isArray(afterList) || !afterList.every((a) => typeof a === "string")) {
      throw new DesignError(
        "E_DESIGN_FIELD",
        `${at(["instances", index, "after"])}: instances[${index}].after must be a hostname or a list of hostnames`,
      );
    }
    members.push({ host, design: { ...shared, instance }, after: [...new Set(afterList as string[])] });
  });
  members.forEach((m, index) => {
    m.after.forEach((name) => {
      if (name === m.host) {
        throw new DesignError(
          "E_DESIGN_CYCLE",
          `${at(["instances", index, "after"])}: ${m.host} cannot come after itself; remove '${name}' from its 'after'`,
        );
      }
      if (!lines.has(name)) {
        throw new DesignError(
          "E_DESIGN_FIELD",
          `${at(["instances", index, "after"])}: instances[${index}].after names '${name}', which is not a hostname in this cluster (hosts: ${[...lines.keys()].join(", ")})`,
        );
      }
    });
  });
  return order(members, (host) => at(["instances", lines.get(host) ?? 0, "after"]));
}

/** Kahn's algorithm, keeping the written order among hosts that are ready at the same time. */
function order(members: ClusterMember[], where: (host: string) => string): ClusterMember[] {
  const done = new Set<string>();
  const out: ClusterMember[] = [];
  while (out.length < members.length) {
    const ready = members.find((m) => !done.has(m.host) && m.after.every((a) => done.has(a)));
    if (!ready) {
      const cycle = findCycle(members.filter((m) => !done.has(m.host)));
      throw new DesignError(
        "E_DESIGN_CYCLE",
        `${where(cycle[0]!)}: the cluster's 'after' lists form a cycle (${cycle.join(" -> ")}); remove one of these 'after' entries`,
      );
    }
    done.add(ready.host);
    out.push(ready);
  }
  return out;
}

/** A cycle among members that are all blocked: follow `after` edges until a host repeats. */
function findCycle(blocked: ClusterMember[]): string[] {
  const byHost = new Map(blocked.map((m) => [m.host, m]));
  const path: string[] = [];
  let current = blocked[0];
  while (current && !path.includes(current.host)) {
    path.push(current.host);
    current = current.after.map((a) => byHost.get(a)).find((m) => m !== undefined);
  }
  if (!current) return path;
  return [...path.slice(path.indexOf(current.host)), current.host];
}
