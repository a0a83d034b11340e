/** A kept node event as the API and `jarvis events --json` show it (ISO times). */
import type { NodeEventRecord } from "../store/node-event-store.js";
import type { NodeEventsJson } from "./response-schemas.js";

export type NodeEventJson = NodeEventsJson["events"][number];

export function nodeEventJson(e: NodeEventRecord): NodeEventJson {
  return {
    id: e.id,
    seq: e.seq,
    host: e.host,
    kind: e.kind,
    at: new Date(e.at).toISOString(),
    received_at: new Date(e.receivedAt).toISOString(),
    data: e.data,
  };
}
