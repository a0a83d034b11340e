/**
 * What a `<host|run|group>` word names, decided against the store and never from the word's shape:
 * a host may be called `g-web` and a run id looks like any other 8-letter word. The rule, in this
 * order: a word that is the id of an existing run names that run; else one that is the id of an
 * existing cluster (group) names the cluster; else it names a host (which may have no runs yet).
 * Run ids and group ids are random 8-letter words (group ids `g-` + one), so the first two do not
 * collide; a host named exactly like an existing run id (a 1 in 36^8 coincidence) is shadowed by
 * that run and can still be reached through the ids of its own runs.
 */
import type { RunRecord, RunStore } from "../store/run-store.js";

/** A resolved target; each kind carries the host(s) it acts on, for the ACL. */
export type RunTarget =
  | { kind: "run"; runId: string; host: string }
  | { kind: "group"; group: string; hosts: string[] }
  | { kind: "host"; host: string };

/** The lookups resolution needs. */
export type TargetLookup = Pick<RunStore, "getRun" | "listRuns">;

/** Resolve a word by the rule above. */
export async function resolveTarget(store: TargetLookup, word: string): Promise<RunTarget> {
  const run = await store.getRun(word);
  if (run) return runTarget(run);
  const members = await store.listRuns({ group: word });
  if (members.length > 0) {
    return { kind: "group", group: word, hosts: [...new Set(members.map((m) => m.host))] };
  }
  return { kind: "host", host: word };
}

/** The target that names exactly this run. */
export function runTarget(run: RunRecord): RunTarget {
  return { kind: "run", runId: run.id, host: run.host };
}

/** The hosts a target acts on. */
export function targetHosts(target: RunTarget): string[] {
  return target.kind === "group" ? target.hosts : [target.host];
}

/** How a target is named to people: the word they gave, whatever it resolved to. */
export function targetName(target: RunTarget): string {
  switch (target.kind) {
    case "run":
      return target.runId;
    case "group":
      return target.group;
    case "host":
      return target.host;
  }
}
