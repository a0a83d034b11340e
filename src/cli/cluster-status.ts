/**
 * `jarvis status --cluster`: the replicas and workers alive and who holds each chat network, read
 * from the cluster's NATS buckets (cluster.nats.url, else executor.nats.url of jarvis.yml).
 */
import { openBus } from "../pipeline/executors/nats-bus.js";
import { openClusterBuckets } from "../cluster/cluster-buckets.js";
import { readClusterView } from "../cluster/cluster-view.js";
import { clusterJson, clusterLines } from "../cluster/cluster-json.js";
import { ConfigError } from "../errors.js";
import { EXIT } from "./exit-codes.js";
import type { CommandContext } from "./command.js";

/** Print the cluster view. */
export async function printClusterStatus(ctx: CommandContext<unknown>, json: boolean): Promise<number> {
  const settings = ctx.config().cluster;
  if (!settings)
    throw new ConfigError(
      "E_CONFIG_FIELD",
      "this jarvis has no cluster: set cluster.nats.url (or executor.nats.url) in jarvis.yml",
    );
  const bus = await openBus(settings.bus, "jarvis status --cluster", (line) => ctx.err(`jarvis: ${line}`));
  try {
    const view = await readClusterView(await openClusterBuckets(bus.js));
    if (json) ctx.out(JSON.stringify(clusterJson(view), null, 2));
    else for (const line of clusterLines(view, Date.now())) ctx.out(line);
  } finally {
    await bus.close();
  }
  return EXIT.ok;
}
