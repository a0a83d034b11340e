/**
 * The `ldap` step module: `ldap:update_host_ou` creates or updates the host's entry under
 * ou=Hosts with its addresses, SSH fingerprints and state; `ldap:delete_host` deletes it. Settings (jarvis.yml `modules.ldap`):
 * `with.url`, `base_dn`, `bind_dn`, `hosts_ou` (default ou=Hosts), `attributes`, `object_classes`,
 * `timeout`; the password only in `env.LDAP_BIND_PASSWORD`. Without `url` the step does nothing.
 */
import { Attribute, Change, NoSuchObjectError } from "ldapts";
import type { Client } from "ldapts";
import { runStepModule, requireField, StepFailure } from "../step-sdk/define-step.js";
import type { Clipboard, StepContext } from "../step-sdk/define-step.js";
import { LdapFailure } from "../errors.js";
import { classifyLdapError, openLdap } from "./ldap-connect.js";
import type { LdapSettings } from "./ldap-connect.js";
import { DEFAULT_OBJECT_CLASSES, hostAttributes, hostDn, mappingFrom } from "./ldap-entry.js";
import { isPlaceholder, valueAt, withPlanEntries } from "../step-sdk/plan.js";

/** Environment variable holding the bind password. */
export const LDAP_PASSWORD_ENV = "LDAP_BIND_PASSWORD";

/** Connection settings and the host entry's DN, read from the step's parameters and environment. */
interface HostEntryTarget {
  settings: LdapSettings;
  dn: string;
  hostname: string;
}

/**
 * Read modules.ldap settings and the host's DN; undefined when LDAP is not configured (the step
 * then skips). Shared by update_host_ou and delete_host so both refuse the same bad settings.
 */
function entryTarget(clipboard: Clipboard, ctx: StepContext): HostEntryTarget | undefined {
  const p = ctx.params;
  if (p.url === undefined) {
    ctx.log(`ldap: not configured (modules.ldap.with.url in jarvis.yml), skipping ${ctx.task}`);
    return undefined;
  }
  const text = (key: string, fallback?: string): string => {
    const value = p[key] ?? fallback;
    if (typeof value !== "string" || value === "")
      throw new StepFailure(
        "E_STEP_PARAMS",
        `ldap: modules.ldap.with.${key} must be set (a non-empty string) when LDAP is configured`,
      );
    return value;
  };
  if (p.password !== undefined || p.bind_password !== undefined) {
    throw new StepFailure(
      "E_STEP_PARAMS",
      `ldap: the bind password must not be a parameter (it would be stored with the run); set modules.ldap.env.${LDAP_PASSWORD_ENV}`,
    );
  }
  const password = ctx.env[LDAP_PASSWORD_ENV];
  if (!password)
    throw new StepFailure(
      "E_LDAP_NO_PASSWORD",
      `ldap: ${LDAP_PASSWORD_ENV} is not set; add modules.ldap.env.${LDAP_PASSWORD_ENV}: \${...} to jarvis.yml`,
    );
  const settings = {
    url: text("url"),
    bindDn: text("bind_dn"),
    password,
    timeoutMs: (typeof p.timeout === "number" ? p.timeout : 10) * 1000,
  };
  const hostname = requireField(clipboard, "instance.hostname", "string") as string;
  return { settings, dn: hostDn(hostname, text("hosts_ou", "ou=Hosts"), text("base_dn")), hostname };
}

/** Bind, run `fn`, unbind; every failure becomes a StepFailure that says what to check. */
async function withDirectory<T>(settings: LdapSettings, fn: (client: Client) => Promise<T>): Promise<T> {
  let client: Client;
  try {
    client = await openLdap(settings);
  } catch (err) {
    throw asStep(err, settings);
  }
  try {
    return await fn(client);
  } catch (err) {
    throw asStep(err, settings);
  } finally {
    await client.unbind().catch(() => undefined);
  }
}

/** Create or update the host's entry; converges (attributes are replaced as a whole). */
export async function updateHostOu(clipboard: Clipboard, ctx: StepContext): Promise<Clipboard | void> {
  const target = entryTarget(clipboard, ctx);
  if (!target) return;
  const { settings, dn, hostname } = target;
  const attributes = hostAttributes(clipboard, mappingFrom(ctx.params));
  const objectClasses = Array.isArray(ctx.params.object_classes)
    ? ctx.params.object_classes.map(String)
    : DEFAULT_OBJECT_CLASSES;
  await withDirectory(settings, async (client) => {
    let exists = true;
    try {
      await client.search(dn, { scope: "base", attributes: ["cn"] });
    } catch (err) {
      if (!(err instanceof NoSuchObjectError)) throw err;
      exists = false;
    }
    if (exists) {
      const changes = Object.entries(attributes).map(
        ([type, values]) =>
          new Change({ operation: "replace", modification: new Attribute({ type, values }) }),
      );
      await client.modify(dn, changes);
      ctx.log(`ldap: updated ${dn}`);
      return;
    }
    try {
      await client.add(dn, { objectClass: objectClasses, cn: hostname, ...attributes });
    } catch (err) {
      if (err instanceof NoSuchObjectError) {
        throw new StepFailure(
          "E_LDAP_NO_PARENT",
          `ldap: cannot add ${dn}: its parent ${dn.slice(dn.indexOf(",") + 1)} does not exist; create it or fix modules.ldap.with.base_dn/hosts_ou`,
        );
      }
      throw err;
    }
    ctx.log(`ldap: created ${dn}`);
  });
  return { ...clipboard, ldap: { dn, attributes } };
}

/** Delete the host's entry under ou=Hosts; converges (an entry already gone is no error). */
export async function deleteHost(clipboard: Clipboard, ctx: StepContext): Promise<Clipboard | void> {
  const target = entryTarget(clipboard, ctx);
  if (!target) return;
  const { settings, dn } = target;
  await withDirectory(settings, async (client) => {
    try {
      await client.del(dn);
      ctx.log(`ldap: deleted ${dn}`);
    } catch (err) {
      // No such entry (or no such parent): nothing left to delete, as after an earlier destroy.
      if (!(err instanceof NoSuchObjectError)) throw err;
      ctx.log(`ldap: ${dn} does not exist (already deleted)`);
    }
  });
  return { ...clipboard, ldap: { dn, deleted: true } };
}

/** The entry's attributes now (lower-cased names), or undefined when it does not exist. */
async function readEntry(client: Client, dn: string): Promise<Record<string, string[]> | undefined> {
  try {
    const { searchEntries } = await client.search(dn, { scope: "base" });
    const found = searchEntries[0];
    if (!found) return undefined;
    const out: Record<string, string[]> = {};
    for (const [type, value] of Object.entries(found)) {
      if (type === "dn") continue;
      out[type.toLowerCase()] = (Array.isArray(value) ? value : [value]).map(String);
    }
    return out;
  } catch (err) {
    if (err instanceof NoSuchObjectError) return undefined;
    throw err;
  }
}

/**
 * Plan of update_host_ou: the attributes it would replace (only those that would change), or the
 * entry it would add. Fingerprints this plan cannot know yet stand as their placeholder.
 */
export async function planUpdateHostOu(clipboard: Clipboard, ctx: StepContext): Promise<Clipboard> {
  const target = entryTarget(clipboard, ctx);
  const step = ctx.step;
  if (!target)
    return withPlanEntries(clipboard, [
      { step, action: "none", target: "ldap (not configured)", before: null, after: null },
    ]);
  const { settings, dn, hostname } = target;
  const readable = isPlaceholder(clipboard, "ssh.fingerprints")
    ? {
        ...clipboard,
        ssh: {
          ...(clipboard.ssh as Record<string, unknown>),
          fingerprints: [valueAt(clipboard, "ssh.fingerprints")],
        },
      }
    : clipboard;
  const attributes = hostAttributes(readable, mappingFrom(ctx.params));
  const objectClasses = Array.isArray(ctx.params.object_classes)
    ? ctx.params.object_classes.map(String)
    : DEFAULT_OBJECT_CLASSES;
  const current = await withDirectory(settings, (client) => readEntry(client, dn));
  const next = { ...clipboard, ldap: { dn, attributes } };
  if (!current) {
    const after = { objectClass: objectClasses, cn: [hostname], ...attributes };
    return withPlanEntries(next, [{ step, action: "create", target: dn, before: null, after }]);
  }
  const before: Record<string, string[]> = {};
  const after: Record<string, string[]> = {};
  for (const [type, values] of Object.entries(attributes)) {
    const now = current[type.toLowerCase()] ?? [];
    if (JSON.stringify([...now].sort()) === JSON.stringify([...values].sort())) continue;
    before[type] = now;
    after[type] = values;
  }
  const action = Object.keys(after).length > 0 ? "update" : "none";
  return withPlanEntries(next, [{ step, action, target: dn, before, after }]);
}

/** Plan of delete_host: the entry it would delete, with what it holds now. */
export async function planDeleteHost(clipboard: Clipboard, ctx: StepContext): Promise<Clipboard> {
  const target = entryTarget(clipboard, ctx);
  const step = ctx.step;
  if (!target)
    return withPlanEntries(clipboard, [
      { step, action: "none", target: "ldap (not configured)", before: null, after: null },
    ]);
  const { settings, dn } = target;
  const current = await withDirectory(settings, (client) => readEntry(client, dn));
  return withPlanEntries({ ...clipboard, ldap: { dn, deleted: true } }, [
    { step, action: current ? "delete" : "none", target: dn, before: current ?? null, after: null },
  ]);
}

function asStep(err: unknown, settings: { url: string; bindDn: string }): StepFailure {
  if (err instanceof StepFailure) return err;
  const failure = err instanceof LdapFailure ? err : classifyLdapError(err, settings);
  return new StepFailure(failure.code, `ldap: ${failure.message}`, { retryable: failure.retryable });
}

runStepModule(
  import.meta.url,
  { update_host_ou: updateHostOu, delete_host: deleteHost },
  { plan: { update_host_ou: planUpdateHostOu, delete_host: planDeleteHost } },
);
