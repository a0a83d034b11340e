/**
 * Read the records a host has now, as a plan compares them with what an update would leave: one
 * plain query per type to the same server the updates go to (the primary, so no cache stands
 * between), answered in the same presentation form dns:update_host records.
 */
import { randomInt } from "node:crypto";
import dnsPacket from "dns-packet";
import type { Answer } from "dns-packet";
import { DnsUpdateFailure } from "../errors.js";
import { exchangeMessage, RCODE_NAMES } from "./dns-update.js";
import type { UpdateTarget } from "./dns-update.js";

/** `name. ttl IN TYPE data`, the form dns:update_host writes to the clipboard (hex in lower case). */
export function recordLine(name: string, ttl: number, type: string, data: unknown): string {
  return `${name}. ${ttl} IN ${type} ${rdataText(data)}`;
}

function rdataText(data: unknown): string {
  if (typeof data === "string") return data;
  const f = data as { algorithm: number; hash: number; fingerprint: string };
  return `${f.algorithm} ${f.hash} ${f.fingerprint.toLowerCase()}`;
}

/** The records of `type` at `name`, sorted; none when the name or the RRset does not exist. */
export async function queryRecords(
  name: string,
  type: "A" | "AAAA" | "SSHFP",
  target: UpdateTarget,
  signal: AbortSignal,
): Promise<string[]> {
  const id = randomInt(0, 0x10000);
  const message = dnsPacket.encode({ type: "query", id, flags: 0, questions: [{ type, name, class: "IN" }] });
  const reply = dnsPacket.decode(await exchangeMessage(message, target, signal));
  const rcode = (reply.flags ?? 0) & 0x0f;
  if (reply.id !== id)
    throw new DnsUpdateFailure("E_DNS_REPLY", `DNS server ${target.server} answered another query`, true);
  // NXDOMAIN: the name has no records at all yet.
  if (rcode !== 0 && rcode !== 3) {
    const rname = RCODE_NAMES[rcode] ?? `RCODE ${rcode}`;
    throw new DnsUpdateFailure(
      `E_DNS_${rname}`,
      `DNS server ${target.server}:${target.port} refused the query for ${name} ${type}: ${rname}`,
      rname === "SERVFAIL",
    );
  }
  return (reply.answers ?? [])
    .filter((a: Answer) => a.type === type && a.name.toLowerCase() === name.toLowerCase())
    .map((a: Answer) => {
      const record = a as { ttl?: number; data: unknown };
      return recordLine(name, record.ttl ?? 0, type, record.data);
    })
    .sort();
}
