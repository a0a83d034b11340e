/**
 * What nats-server itself says during a fan-out, from its monitoring port: how many messages it
 * took in and sent out (per node, the bus's share of the work), and which connections it closed
 * and why (an agent that did not answer either lost its connection, and the server says for what
 * reason, or stayed connected and was only late).
 */
import { z } from "zod";

const Varz = z.object({ in_msgs: z.number(), out_msgs: z.number() });
const Connz = z.object({
  connections: z
    .array(
      z.object({ name: z.string().optional(), reason: z.string().optional(), stop: z.string().optional() }),
    )
    .nullable(),
});

export interface MessageCounts {
  in: number;
  out: number;
}

export async function messageCounts(monitorUrl: string): Promise<MessageCounts> {
  const varz = Varz.parse(await (await fetch(`${monitorUrl}/varz`)).json());
  return { in: varz.in_msgs, out: varz.out_msgs };
}

/** Connections nats-server closed after `since`, by name (`jarvis-agent <node>`), with its reason. */
export async function closedSince(monitorUrl: string, since: Date): Promise<Map<string, string>> {
  const connz = Connz.parse(await (await fetch(`${monitorUrl}/connz?state=closed&limit=10000`)).json());
  const closed = new Map<string, string>();
  for (const c of connz.connections ?? []) {
    if (c.stop !== undefined && new Date(c.stop) >= since) closed.set(c.name ?? "?", c.reason ?? "?");
  }
  return closed;
}
