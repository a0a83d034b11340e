/**
 * Moving a production host's services away before a redeploy, and back after it. Each service
 * the design lists (`services: [{name, dns, standby, check}]`) is a DNS name that jarvis manages
 * as a CNAME: production:migrate points it at the standby's name once the standby passes the
 * service's check, production:restore points it back at the host's own name (which
 * dns:update_host keeps on the new node's address) once the host passes the same check. Every
 * change is recorded under `production.migrated`, so on_failure restores exactly what was moved.
 */
import { Resolver } from "node:dns/promises";
import { isIP } from "node:net";
import type { Answer } from "dns-packet";
import { StepFailure } from "../step-sdk/define-step.js";
import type { Clipboard, StepContext } from "../step-sdk/define-step.js";
import { hostAddress } from "../providers/host-address.js";
import { readDnsSettings } from "./dns-settings.js";
import type { DnsSettings } from "./dns-settings.js";
import { DnsUpdateFailure } from "../errors.js";
import { sendUpdate } from "./dns-update.js";
import { hostnameOf, productionFields, productionMark } from "./production-mark.js";
import { checkService, describeCheck } from "./service-check.js";
import type { ServiceCheck } from "./service-check.js";

/** One service of the design. */
export interface Service {
  name: string;
  dns: string;
  standby: string;
  check: ServiceCheck;
}

/** One name moved to its standby, as recorded on the clipboard. */
export interface MigratedService {
  name: string;
  dns: string;
  /** The standby's DNS name the CNAME points at, and the address its check reached. */
  standby: string;
  address: string;
  check: ServiceCheck;
}

/** The record types jarvis replaces at a service name: whatever pointed it somewhere before. */
const SERVICE_TYPES = ["A", "AAAA", "CNAME"];

/** The design's services (validated at load; checked again here since the clipboard is input). */
export function servicesOf(clipboard: Clipboard): Service[] {
  const list = clipboard.services;
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list) || !list.every(isService)) {
    throw new StepFailure(
      "E_CLIPBOARD_FIELD",
      "production: clipboard field services must be a list of {name, dns, standby, check: {tcp: PORT} or {http: URL}}; fix the design",
    );
  }
  return list;
}

/** Point every service's name at its standby, after every standby passed its check. */
export async function migrate(clipboard: Clipboard, ctx: StepContext): Promise<Clipboard | void> {
  const services = servicesOf(clipboard);
  const host = hostnameOf(clipboard);
  if (services.length === 0) {
    ctx.log(`production: ${host} lists no services; nothing to migrate`);
    return;
  }
  if (!productionMark(clipboard, productionFields(ctx.params))) {
    ctx.log(`production: ${host} is not marked as production; its services stay where they are`);
    return;
  }
  const settings = serviceDnsSettings(ctx);
  const timeoutMs = checkTimeoutMs(ctx);
  // Every standby is checked before any name moves, so a dead standby changes nothing.
  const planned: MigratedService[] = [];
  const problems: string[] = [];
  for (const service of services) {
    const dns = inZone(service.dns, settings.zone, `services ${service.name}: dns`);
    const standby = qualify(service.standby, settings.zone);
    const address = await resolveAddress(standby, settings, ctx);
    const result = await checkService(service.check, address, timeoutMs, ctx.signal);
    ctx.log(
      `production: standby ${standby} for ${service.name} (${describeCheck(service.check)}): ${result.detail}`,
    );
    if (result.ok) planned.push({ name: service.name, dns, standby, address, check: service.check });
    else problems.push(`${service.name}: ${result.detail}`);
  }
  if (problems.length > 0) {
    throw new StepFailure(
      "E_STANDBY_UNREACHABLE",
      `production: the standby does not answer for ${problems.join("; ")}; nothing was moved and ${host} was not touched. Bring the standby up or name another one in the design's services`,
      { retryable: true },
    );
  }
  const moved: MigratedService[] = [];
  try {
    for (const service of planned) {
      await pointName(settings, service.dns, service.standby, ctx.signal);
      moved.push(service);
      ctx.log(`production: ${service.dns} now points at ${service.standby} (CNAME)`);
    }
  } catch (err) {
    // A step's clipboard is dropped when it fails, so names moved so far are put back here.
    const target = hostTarget(clipboard, settings.zone);
    for (const service of moved) await pointName(settings, service.dns, target, ctx.signal);
    throw err;
  }
  const section = productionSection(clipboard);
  return { ...clipboard, production: { ...section, migrated: moved } };
}

/**
 * Point every moved name back at the host, once the host passes each service's check. Restoring
 * nothing is fine, so on_failure can always run it; a host that does not answer keeps the names
 * on their standbys and fails the step (never send clients to a node that is down).
 */
export async function restore(clipboard: Clipboard, ctx: StepContext): Promise<Clipboard | void> {
  const section = productionSection(clipboard);
  const migrated = migratedOf(section);
  const host = hostnameOf(clipboard);
  if (migrated.length === 0) {
    ctx.log(`production: no service of ${host} was moved; nothing to restore`);
    return;
  }
  const settings = serviceDnsSettings(ctx);
  const timeoutMs = checkTimeoutMs(ctx);
  const { address } = hostAddress(clipboard);
  const problems: string[] = [];
  for (const service of migrated) {
    const result = await checkService(service.check, address, timeoutMs, ctx.signal);
    ctx.log(`production: ${host} for ${service.name} (${describeCheck(service.check)}): ${result.detail}`);
    if (!result.ok) problems.push(`${service.name}: ${result.detail}`);
  }
  if (problems.length > 0) {
    throw new StepFailure(
      "E_SERVICE_UNREACHABLE",
      `production: ${host} does not answer for ${problems.join("; ")}; the names stay on their standbys. Fix the host, then retry the run`,
      { retryable: true },
    );
  }
  const target = hostTarget(clipboard, settings.zone);
  for (const service of migrated) {
    await pointName(settings, service.dns, target, ctx.signal);
    ctx.log(`production: ${service.dns} points at ${target} again (CNAME)`);
  }
  return {
    ...clipboard,
    production: {
      ...section,
      migrated: [],
      restored: migrated.map((s) => ({ name: s.name, dns: s.dns, to: target })),
    },
  };
}

/** Replace whatever the name held (A, AAAA, CNAME) with one CNAME to `target`: converges. */
async function pointName(
  settings: DnsSettings,
  name: string,
  target: string,
  signal: AbortSignal,
): Promise<void> {
  const add = [{ name, type: "CNAME", ttl: settings.ttl, data: target } as Answer];
  try {
    await sendUpdate(
      { zone: settings.zone, deleteRRsets: SERVICE_TYPES.map((type) => ({ name, type })), add },
      settings.key,
      settings.target,
      signal,
    );
  } catch (err) {
    if (err instanceof DnsUpdateFailure)
      throw new StepFailure(err.code, `production: pointing ${name} at ${target}: ${err.message}`, {
        retryable: err.retryable,
      });
    throw err;
  }
}

/** The standby's address, from the DNS server jarvis updates (the one clients will ask). */
async function resolveAddress(name: string, settings: DnsSettings, ctx: StepContext): Promise<string> {
  const resolver = new Resolver({ timeout: settings.target.timeoutMs, tries: 2 });
  const server = isIP(settings.server) === 6 ? `[${settings.server}]` : settings.server;
  resolver.setServers([`${server}:${settings.target.port}`]);
  const cancel = (): void => resolver.cancel();
  ctx.signal.addEventListener("abort", cancel, { once: true });
  try {
    const [address] = await resolver.resolve4(name);
    if (address) return address;
  } catch (err) {
    ctx.log(`production: looking up ${name} at ${server}:${settings.target.port}: ${(err as Error).message}`);
  } finally {
    ctx.signal.removeEventListener("abort", cancel);
  }
  throw new StepFailure(
    "E_STANDBY_UNKNOWN",
    `production: the standby ${name} has no A record at ${settings.server}:${settings.target.port}; nothing was moved. Deploy the standby or fix services[].standby in the design`,
  );
}

export function serviceDnsSettings(ctx: StepContext): DnsSettings {
  const dns = ctx.params.dns;
  const params =
    dns && typeof dns === "object" && !Array.isArray(dns) ? (dns as Record<string, unknown>) : {};
  const settings = readDnsSettings(params, ctx.env, {
    params: "modules.production.with.dns",
    env: "modules.production.env",
  });
  if (!settings) {
    throw new StepFailure(
      "E_STEP_PARAMS",
      "production: the design lists services but modules.production.with.dns (server, zone, key_name) is not set in jarvis.yml, so their names cannot be moved",
    );
  }
  return settings;
}

function checkTimeoutMs(ctx: StepContext): number {
  const seconds = ctx.params.check_timeout ?? 5;
  if (typeof seconds !== "number" || !(seconds > 0))
    throw new StepFailure(
      "E_STEP_PARAMS",
      "production: with.check_timeout must be a positive number of seconds",
    );
  return seconds * 1000;
}

/** The host's own DNS name: instance.fqdn when inside the zone, else hostname.zone. */
export function hostTarget(clipboard: Clipboard, zone: string): string {
  const instance = clipboard.instance as Record<string, unknown> | undefined;
  const fqdn = typeof instance?.fqdn === "string" ? instance.fqdn.replace(/\.$/, "").toLowerCase() : "";
  return fqdn !== "" && isInZone(fqdn, zone) ? fqdn : `${hostnameOf(clipboard)}.${zone}`;
}

/** A bare name (`thor`) is taken inside the zone; a dotted one is used as written. */
export function qualify(name: string, zone: string): string {
  const lower = name.replace(/\.$/, "").toLowerCase();
  return lower.includes(".") ? lower : `${lower}.${zone}`;
}

export function inZone(name: string, zone: string, what: string): string {
  const lower = name.replace(/\.$/, "").toLowerCase();
  if (!isInZone(lower, zone))
    throw new StepFailure(
      "E_DNS_NOTZONE",
      `production: ${what} ${lower} is not inside zone ${zone}; fix the design or modules.production.with.dns.zone`,
    );
  return lower;
}

function isInZone(name: string, zone: string): boolean {
  const z = zone.toLowerCase();
  return name === z || name.endsWith(`.${z}`);
}

export function productionSection(clipboard: Clipboard): Record<string, unknown> {
  const section = clipboard.production;
  return section && typeof section === "object" && !Array.isArray(section)
    ? (section as Record<string, unknown>)
    : {};
}

export function migratedOf(section: Record<string, unknown>): MigratedService[] {
  const list = section.migrated;
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list) || !list.every(isMigrated)) {
    throw new StepFailure(
      "E_CLIPBOARD_FIELD",
      "production: clipboard field production.migrated is not what production:migrate writes; fix the clipboard before retrying",
    );
  }
  return list;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isCheck(value: unknown): value is ServiceCheck {
  if (!isRecord(value)) return false;
  const keys = Object.keys(value);
  if (keys.length !== 1) return false;
  if ("tcp" in value)
    return Number.isInteger(value.tcp) && (value.tcp as number) > 0 && (value.tcp as number) < 65536;
  return typeof value.http === "string" && /^https?:\/\//.test(value.http);
}

function isService(value: unknown): value is Service {
  return (
    isRecord(value) &&
    typeof value.name === "string" &&
    typeof value.dns === "string" &&
    typeof value.standby === "string" &&
    isCheck(value.check)
  );
}

function isMigrated(value: unknown): value is MigratedService {
  return isService(value) && typeof (value as { address?: unknown }).address === "string";
}
