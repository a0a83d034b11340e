/** The cluster view as `GET /health` and `jarvis status --cluster --json` show it (ISO times). */
import type { ClusterView } from "./cluster-view.js";

/** The JSON shape of a ClusterView. */
export interface ClusterJson {
  replicas: {
    id: string;
    host: string;
    pid: number;
    started: string;
    last_heartbeat: string;
    networks: string[];
  }[];
  workers: { id: string; tags: string[]; in_flight: number; last_heartbeat: string }[];
  /** Who speaks for each chat network (null: handed back, free for the next replica). */
  networks: Record<string, { replica: string | null; renewed_at: string; feed_cursor: number }>;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export function clusterJson(view: ClusterView): ClusterJson {
  return {
    replicas: view.replicas.map((r) => ({
      id: r.id,
      host: r.host,
      pid: r.pid,
      started: iso(r.startedAt),
      last_heartbeat: iso(r.lastHeartbeat),
      networks: r.networks,
    })),
    workers: view.workers.map((w) => ({
      id: w.worker,
      tags: w.tags,
      in_flight: w.inFlight,
      last_heartbeat: iso(w.lastHeartbeat),
    })),
    networks: Object.fromEntries(
      view.networks.map((n) => [
        n.network,
        { replica: n.replica, renewed_at: iso(n.renewedAt), feed_cursor: n.cursor },
      ]),
    ),
  };
}

/** Lines for people: one per replica, worker and network. */
export function clusterLines(view: ClusterView, now: number): string[] {
  const ago = (ms: number): string => `${Math.max(0, Math.round((now - ms) / 1000))}s ago`;
  const lines: string[] = [];
  lines.push(`replicas (${view.replicas.length}):`);
  for (const r of view.replicas)
    lines.push(
      `  ${r.id}  host ${r.host} pid ${r.pid}  started ${iso(r.startedAt)}  heartbeat ${ago(r.lastHeartbeat)}  networks: ${r.networks.join(", ") || "none"}`,
    );
  lines.push(`workers (${view.workers.length}):`);
  for (const w of view.workers)
    lines.push(
      `  ${w.worker}  tags: ${w.tags.join(", ") || "none"}  steps in flight ${w.inFlight}  heartbeat ${ago(w.lastHeartbeat)}`,
    );
  lines.push(`chat networks (${view.networks.length}):`);
  for (const n of view.networks)
    lines.push(
      `  ${n.network}  ${n.replica === null ? "free (handed back)" : `held by ${n.replica}`}  renewed ${ago(n.renewedAt)}`,
    );
  return lines;
}
