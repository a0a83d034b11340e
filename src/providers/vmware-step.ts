/**
 * The `vmware:*` step module. Settings come as parameters (jarvis.yml `modules.vmware.with` under
 * the pipeline's `with`): url (the /sdk endpoint), ca_file, datacenter, cluster, esx_host,
 * datastore, folder, cpus, templates, guestinfo (cloud-init|none), api_version, retry and wait
 * bounds; the design's `instance.datacenter`, `cluster`, `esx_host`, `datastore`, `folder` and
 * `cpus` win over them. Credentials come from the environment (VSPHERE_USER, VSPHERE_PASSWORD) and
 * are never printed. Each task logs in, works, and logs out.
 */
import { readFileSync } from "node:fs";
import { ProviderError } from "../errors.js";
import { errorMessage } from "../errors.js";
import { runStepModule } from "../step-sdk/define-step.js";
import type { Clipboard, StepContext, StepTask } from "../step-sdk/define-step.js";
import type { ProviderTask } from "./provider.js";
import { providerTasks } from "./provider-step.js";
import { numberParam, policiesFrom, stringMap } from "./retry.js";
import { VmwareProvider } from "./vmware.js";
import { GUESTINFO_MODES } from "./vmware-guestinfo.js";
import type { GuestinfoMode } from "./vmware-guestinfo.js";
import { VsphereClient } from "./vsphere/client.js";

/** Design fields that choose placement, and the parameter each overrides. */
const DESIGN_PLACEMENT = ["datacenter", "cluster", "esx_host", "datastore", "folder", "cpus"] as const;

/** Build the VMware provider (and its client) from a step's parameters and environment. */
export function vmwareFromContext(ctx: StepContext): { provider: VmwareProvider; client: VsphereClient } {
  const p = ctx.params;
  const str = (key: string): string | undefined =>
    typeof p[key] === "string" && p[key] !== "" ? (p[key] as string) : undefined;
  const url = str("url");
  if (!url) {
    throw new ProviderError(
      "E_PROVIDER_PARAM",
      "vmware: no vCenter or ESX address; set modules.vmware.with.url in jarvis.yml (e.g. https://vcenter.example.org/sdk)",
    );
  }
  const guestinfo = str("guestinfo") ?? "cloud-init";
  if (!isGuestinfoMode(guestinfo)) {
    throw new ProviderError(
      "E_PROVIDER_PARAM",
      `vmware: parameter guestinfo must be one of ${GUESTINFO_MODES.join(", ")}, got ${JSON.stringify(guestinfo)}`,
    );
  }
  const client = new VsphereClient({
    url,
    username: ctx.env.VSPHERE_USER ?? "",
    password: ctx.env.VSPHERE_PASSWORD ?? "",
    ca: readCa(str("ca_file")),
    apiVersion: str("api_version"),
    log: ctx.log,
  });
  const provider = new VmwareProvider({
    client,
    placement: {
      datacenter: str("datacenter"),
      cluster: str("cluster"),
      esxHost: str("esx_host"),
      datastore: str("datastore"),
      folder: str("folder"),
    },
    cpus: p.cpus === undefined ? undefined : Math.floor(numberParam(p, "cpus", 1, 1)),
    templates: stringMap(p.templates, "templates"),
    guestinfo,
    ...policiesFrom(p),
    log: ctx.log,
  });
  return { provider, client };
}

function isGuestinfoMode(value: string): value is GuestinfoMode {
  return (GUESTINFO_MODES as readonly string[]).includes(value);
}

function readCa(path: string | undefined): string | undefined {
  if (!path) return undefined;
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new ProviderError(
      "E_PROVIDER_PARAM",
      `vmware: cannot read ca_file ${path} (${errorMessage(err)}); fix modules.vmware.with.ca_file`,
      { cause: err },
    );
  }
}

/** The design's placement fields as parameters, so they win over jarvis.yml's defaults. */
export function designPlacement(clipboard: Clipboard): Record<string, unknown> {
  const instance = clipboard.instance;
  if (!instance || typeof instance !== "object" || Array.isArray(instance)) return {};
  const out: Record<string, unknown> = {};
  for (const key of DESIGN_PLACEMENT) {
    const value = (instance as Record<string, unknown>)[key];
    if (value !== undefined && value !== null && value !== "") out[key] = value;
  }
  return out;
}

/** The provider tasks, each in its own session, placed where the design says. */
export function vmwareTasks(): Record<ProviderTask, StepTask> {
  const clients = new WeakMap<StepContext, VsphereClient>();
  const base = providerTasks("vmware", (ctx) => {
    const { provider, client } = vmwareFromContext(ctx);
    clients.set(ctx, client);
    return provider;
  });
  const inSession =
    (task: StepTask): StepTask =>
    async (clipboard, outer) => {
      const ctx: StepContext = { ...outer, params: { ...outer.params, ...designPlacement(clipboard) } };
      try {
        return await task(clipboard, ctx);
      } finally {
        const client = clients.get(ctx);
        if (client) {
          try {
            await client.logout(ctx.signal);
          } catch (err) {
            // The task's outcome stands; an unclosed session times out on the server.
            ctx.log(`vmware: logout failed (${errorMessage(err)}); the session will time out`);
          }
        }
      }
    };
  return {
    deploy: inSession(base.deploy),
    ip: inSession(base.ip),
    poweroff: inSession(base.poweroff),
    delete: inSession(base.delete),
    status: inSession(base.status),
    list: inSession(base.list),
  };
}

runStepModule(import.meta.url, vmwareTasks(), { plan: "in-task" });
