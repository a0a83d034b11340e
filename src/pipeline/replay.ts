/**
 * Replay: a past run's pipeline, exactly as it ran (the pipeline stored with the run, so its
 * parameters too, and its force flag), started again on other designs. A host's design is the
 * source of its latest run, else its LDAP entry (`cn=<host>`), as redeploy finds it.
 */
import { CommandError, RunError } from "../errors.js";
import type { ReplayOnto } from "../commands/typed-command.js";
import type { RunRecord, RunStore } from "../store/run-store.js";
import type { Pipeline } from "./pipeline.js";
import type { Requester, StartOptions } from "./run-control.js";

/** What replay needs of the run service. */
export interface ReplayHost {
  lastSource(host: string): Promise<string | undefined>;
  startAll(pipeline: Pipeline, source: string, who: Requester, mode?: StartOptions): Promise<RunRecord[]>;
}

/** Most designs one replay starts on. */
export const MAX_REPLAY_TARGETS = 20;

/** Start `run`'s pipeline on each design `onto` names; the new runs, in the order named. */
export async function replayRun(
  service: ReplayHost,
  store: Pick<RunStore, "listRuns">,
  run: RunRecord,
  onto: ReplayOnto,
  who: Requester,
  mode: StartOptions,
): Promise<RunRecord[]> {
  const named = "hosts" in onto ? onto.hosts : onto.sources;
  if (named.length === 0 || named.length > MAX_REPLAY_TARGETS) {
    throw new CommandError(
      "E_USAGE",
      `replay takes 1 to ${MAX_REPLAY_TARGETS} ${"hosts" in onto ? "hosts" : "sources"}, got ${named.length}`,
    );
  }
  if (new Set(named).size !== named.length) {
    throw new CommandError("E_USAGE", `replay names ${named.join(", ")}: each one only once`);
  }
  let sources = named;
  if ("hosts" in onto) {
    // Every host is checked before the first run starts, so a busy one does not leave a half replay.
    for (const host of onto.hosts) {
      const [busy] = await store.listRuns({ host, states: ["queued", "running"], limit: 1 });
      if (busy) {
        throw new RunError(
          "E_HOST_BUSY",
          `${host} already has run ${busy.id} (${busy.state}); nothing was replayed; wait for it, or cancel it with: cancel ${busy.id}`,
        );
      }
    }
    sources = await Promise.all(onto.hosts.map(async (h) => (await service.lastSource(h)) ?? `cn=${h}`));
  }
  const pipeline = JSON.parse(run.pipelineJson) as Pipeline;
  const runs: RunRecord[] = [];
  for (const source of sources) {
    runs.push(...(await service.startAll(pipeline, source, who, { ...mode, force: run.forced })));
  }
  return runs;
}
