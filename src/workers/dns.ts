/**
 * The `dns` step module: `dns:update_host` replaces the host's A/AAAA and SSHFP records with one
 * RFC 2136 update signed with TSIG; `dns:delete_host` removes them the same way. Settings (jarvis.yml `modules.dns`): `with.server`, `port`,
 * `zone`, `key_name`, `algorithm`, `ttl`, `transport`, `timeout`, `name`; the secret only in
 * `env.DNS_TSIG_SECRET` (base64). Without `server` and `zone` the step says so and does nothing.
 */
import { createHash } from "node:crypto";
import { isIP } from "node:net";
import type { Answer } from "dns-packet";
import { runStepModule, requireField, StepFailure } from "../step-sdk/define-step.js";
import type { Clipboard, StepContext } from "../step-sdk/define-step.js";
import { hostAddress } from "../providers/host-address.js";
import { DnsUpdateFailure } from "../errors.js";
import { sendUpdate } from "./dns-update.js";
import { readDnsSettings } from "./dns-settings.js";
import type { DnsSettings } from "./dns-settings.js";
import { queryRecords, recordLine } from "./dns-query.js";
import { actionFor, isPlaceholder, planMarks, withPlanEntries } from "../step-sdk/plan.js";
import type { PlanEntry } from "../step-sdk/plan.js";

/** SSHFP algorithm numbers (RFC 4255, 6594, 7479) by SSH key type prefix. */
const SSHFP_ALGORITHM: [RegExp, number][] = [
  [/^ssh-rsa$/, 1],
  [/^ssh-dss$/, 2],
  [/^ecdsa-sha2-/, 3],
  [/^ssh-ed25519$/, 4],
];

/** SSHFP records (SHA-1 and SHA-256, as `ssh-keygen -r` prints) for recorded host key lines. */
export function sshfpRecords(name: string, ttl: number, hostKeys: string[]): Answer[] {
  const out: Answer[] = [];
  for (const line of hostKeys) {
    const [type, b64] = line.trim().split(/\s+/);
    const algorithm = SSHFP_ALGORITHM.find(([re]) => re.test(type ?? ""))?.[1];
    if (algorithm === undefined || !b64) continue;
    const blob = Buffer.from(b64, "base64");
    for (const [hash, digest] of [
      [1, "sha1"],
      [2, "sha256"],
    ] as const) {
      out.push({
        name,
        type: "SSHFP",
        ttl,
        data: { algorithm, hash, fingerprint: createHash(digest).update(blob).digest("hex") },
      } as Answer);
    }
  }
  return out;
}

/**
 * Read modules.dns settings; undefined when DNS is not configured (the step then skips). Shared
 * by update_host and delete_host, so both refuse the same bad settings with the same words.
 */
function dnsSettings(ctx: StepContext): DnsSettings | undefined {
  const settings = readDnsSettings(ctx.params, ctx.env, {
    params: "modules.dns.with",
    env: "modules.dns.env",
  });
  if (!settings)
    ctx.log(`dns: not configured (modules.dns.with.server and zone in jarvis.yml), skipping ${ctx.task}`);
  return settings;
}

/** Send one update: delete the host's address and SSHFP RRsets, then add `add` (if any). */
async function replaceRecords(
  settings: DnsSettings,
  name: string,
  add: Answer[],
  signal: AbortSignal,
): Promise<void> {
  try {
    await sendUpdate(
      { zone: settings.zone, deleteRRsets: HOST_TYPES.map((type) => ({ name, type })), add },
      settings.key,
      settings.target,
      signal,
    );
  } catch (err) {
    if (err instanceof DnsUpdateFailure)
      throw new StepFailure(err.code, `dns: ${err.message}`, { retryable: err.retryable });
    throw err;
  }
}

/** The RRsets jarvis owns for a host: its addresses and SSHFP records. */
const HOST_TYPES = ["A", "AAAA", "SSHFP"] as const;

/** Update the host's address and SSHFP records; converges (delete RRsets, then add, in one update). */
export async function updateHost(clipboard: Clipboard, ctx: StepContext): Promise<Clipboard | void> {
  const settings = dnsSettings(ctx);
  if (!settings) return;
  const { server, zone, ttl, target } = settings;
  const host = hostAddress(clipboard);
  const hostname = requireField(clipboard, "instance.hostname", "string") as string;
  const name = recordName(clipboard, ctx.params, hostname, zone);
  const section = clipboard[host.provider] as Record<string, unknown>;
  const add: Answer[] = [];
  const ipv4 = typeof section.ipv4 === "string" ? section.ipv4 : undefined;
  const ipv6 = typeof section.ipv6 === "string" ? section.ipv6 : undefined;
  if (ipv4 && isIP(ipv4) === 4) add.push({ name, type: "A", ttl, data: ipv4 } as Answer);
  if (ipv6 && isIP(ipv6) === 6) add.push({ name, type: "AAAA", ttl, data: ipv6 } as Answer);
  const ssh = clipboard.ssh as Record<string, unknown> | undefined;
  const hostKeys =
    ssh && Array.isArray(ssh.host_keys)
      ? ssh.host_keys.filter((k): k is string => typeof k === "string")
      : [];
  if (hostKeys.length === 0)
    ctx.log(
      "dns: no ssh.host_keys on the clipboard (run ssh:wait first for SSHFP records); updating addresses only",
    );
  add.push(...sshfpRecords(name, ttl, hostKeys));

  ctx.log(`dns: updating ${name} in ${zone} at ${server}:${target.port} (${add.length} records)`);
  await replaceRecords(settings, name, add, ctx.signal);
  const records = add.map((rr) => recordLine(name, ttl, rr.type, (rr as { data: unknown }).data));
  ctx.log(`dns: ${name} updated: ${add.map((rr) => rr.type).join(", ")}`);
  return { ...clipboard, dns: { name, zone, server: `${server}:${target.port}`, records } };
}

/**
 * Delete the host's A/AAAA and SSHFP RRsets. Converges: RFC 2136 deletes of RRsets that do not
 * exist succeed, so a repeated destroy passes. Needs only the host's name, not its address,
 * because the node may already be gone when this runs.
 */
export async function deleteHost(clipboard: Clipboard, ctx: StepContext): Promise<Clipboard | void> {
  const settings = dnsSettings(ctx);
  if (!settings) return;
  const { server, zone, target } = settings;
  const hostname = requireField(clipboard, "instance.hostname", "string") as string;
  const name = recordName(clipboard, ctx.params, hostname, zone);
  ctx.log(`dns: deleting ${HOST_TYPES.join(", ")} of ${name} in ${zone} at ${server}:${target.port}`);
  await replaceRecords(settings, name, [], ctx.signal);
  ctx.log(`dns: ${name} has no address or SSHFP records any more`);
  return { ...clipboard, dns: { name, zone, server: `${server}:${target.port}`, records: [] } };
}

/** The record's owner name: `with.name`, else instance.fqdn when inside the zone, else host.zone. */
function recordName(
  clipboard: Clipboard,
  p: Record<string, unknown>,
  hostname: string,
  zone: string,
): string {
  const fqdn = (clipboard.instance as Record<string, unknown>).fqdn;
  let name =
    typeof p.name === "string"
      ? p.name
      : typeof fqdn === "string" && fqdn !== ""
        ? fqdn
        : `${hostname}.${zone}`;
  name = name.replace(/\.$/, "").toLowerCase();
  if (name !== zone.toLowerCase() && !name.endsWith(`.${zone.toLowerCase()}`)) {
    throw new StepFailure(
      "E_DNS_NOTZONE",
      `dns: ${name} is not inside zone ${zone}; fix instance.fqdn in the design or modules.dns.with.zone`,
    );
  }
  return name;
}

/**
 * The records update_host would leave, by type, as record lines: from the clipboard as the real
 * step reads it, where a placeholder (an address or host keys this plan cannot know yet) stands
 * in the line instead of data.
 */
function plannedRecords(
  clipboard: Clipboard,
  name: string,
  ttl: number,
): Record<(typeof HOST_TYPES)[number], string[]> {
  const host = hostAddress(clipboard);
  const section = clipboard[host.provider] as Record<string, unknown>;
  const marks = planMarks(clipboard).placeholders;
  const address = (field: "ipv4" | "ipv6", version: 4 | 6): string[] => {
    const path = `${host.provider}.${field}`;
    if (isPlaceholder(clipboard, path))
      return [recordLine(name, ttl, version === 4 ? "A" : "AAAA", marks[path])];
    const value = section[field];
    return typeof value === "string" && isIP(value) === version
      ? [recordLine(name, ttl, version === 4 ? "A" : "AAAA", value)]
      : [];
  };
  const ssh = clipboard.ssh as Record<string, unknown> | undefined;
  const sshfp = isPlaceholder(clipboard, "ssh.host_keys")
    ? [recordLine(name, ttl, "SSHFP", `from ${marks["ssh.host_keys"]}`)]
    : sshfpRecords(
        name,
        ttl,
        ssh && Array.isArray(ssh.host_keys)
          ? ssh.host_keys.filter((k): k is string => typeof k === "string")
          : [],
      ).map((rr) => recordLine(name, ttl, "SSHFP", (rr as { data: unknown }).data));
  return { A: address("ipv4", 4), AAAA: address("ipv6", 6), SSHFP: sshfp.sort() };
}

/** One entry per RRset: what the server holds now (queried) against what the update would leave. */
async function planRecords(
  clipboard: Clipboard,
  ctx: StepContext,
  after: (settings: DnsSettings, name: string) => Record<(typeof HOST_TYPES)[number], string[]>,
): Promise<Clipboard> {
  const settings = dnsSettings(ctx);
  if (!settings)
    return withPlanEntries(clipboard, [
      { step: ctx.step, action: "none", target: "dns (not configured)", before: null, after: null },
    ]);
  const { server, zone, target } = settings;
  const hostname = requireField(clipboard, "instance.hostname", "string") as string;
  const name = recordName(clipboard, ctx.params, hostname, zone);
  const wanted = after(settings, name);
  const entries: PlanEntry[] = [];
  try {
    for (const type of HOST_TYPES) {
      const before = await queryRecords(name, type, target, ctx.signal);
      const action = actionFor(before, wanted[type]);
      entries.push({ step: ctx.step, action, target: `${name}. ${type}`, before, after: wanted[type] });
    }
  } catch (err) {
    if (err instanceof DnsUpdateFailure)
      throw new StepFailure(err.code, `dns: ${err.message}`, { retryable: err.retryable });
    throw err;
  }
  const records = [...wanted.A, ...wanted.AAAA, ...wanted.SSHFP];
  return withPlanEntries(
    { ...clipboard, dns: { name, zone, server: `${server}:${target.port}`, records } },
    entries,
  );
}

/** Plan of update_host: which A/AAAA/SSHFP records it would add, change and remove. */
export function planUpdateHost(clipboard: Clipboard, ctx: StepContext): Promise<Clipboard> {
  return planRecords(clipboard, ctx, (settings, name) => plannedRecords(clipboard, name, settings.ttl));
}

/** Plan of delete_host: the records it would remove. */
export function planDeleteHost(clipboard: Clipboard, ctx: StepContext): Promise<Clipboard> {
  return planRecords(clipboard, ctx, () => ({ A: [], AAAA: [], SSHFP: [] }));
}
runStepModule(
  import.meta.url,
  { update_host: updateHost, delete_host: deleteHost },
  { plan: { update_host: planUpdateHost, delete_host: planDeleteHost } },
);
