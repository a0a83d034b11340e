/**
 * Where a new VM goes: the design's datacenter, cluster and/or ESX host, datastore and folder,
 * and the template it is cloned from, each looked up by name in the inventory. A name that
 * matches nothing is an operator's fix, so the error lists what exists.
 */
import { ProviderError } from "../errors.js";
import { moRef, refElement } from "./vsphere/client.js";
import type { MoRef, ObjectContent, VsphereClient } from "./vsphere/client.js";
import { leaf, node, textOf } from "./vsphere/xml.js";
import type { XmlElement } from "./vsphere/xml.js";

/** Placement names, from the design (`instance.cluster` ...) or modules.vmware.with. */
export interface VmwarePlacement {
  datacenter?: string;
  cluster?: string;
  esxHost?: string;
  datastore?: string;
  folder?: string;
}

/** The objects a clone names. */
export interface ResolvedPlacement {
  template: MoRef;
  folder: MoRef;
  pool: MoRef;
  host?: MoRef;
  datastore?: MoRef;
}

/** Look up the template and placement objects; fails naming what is missing and what exists. */
export async function resolvePlacement(
  client: VsphereClient,
  templateName: string,
  where: VmwarePlacement,
  signal: AbortSignal,
): Promise<ResolvedPlacement> {
  const dcs = await client.objectsOfType("Datacenter", ["name", "vmFolder"], signal);
  const dc = pick(dcs, where.datacenter, "datacenter", "datacenter");
  const within = (type: string, paths: string[]): Promise<ObjectContent[]> =>
    client.objectsOfType(type, ["name", ...paths], signal, dc.ref);

  const vms = await within("VirtualMachine", ["config.template"]);
  const candidates = vms.filter((vm) => nameOf(vm) === templateName);
  // A template by that name wins over a plain VM that happens to share it.
  const isTemplate = (vm: ObjectContent): boolean => textOf(vm.props.get("config.template")) === "true";
  const template = candidates.find(isTemplate) ?? (candidates.length === 1 ? candidates[0] : undefined);
  if (!template) {
    throw new ProviderError(
      "E_PROVIDER_INPUT",
      `vmware: no template named ${templateName} in datacenter ${nameOf(dc)} (templates: ${names(vms.filter(isTemplate)) || "none"}); fix instance.guestid or modules.vmware.with.templates`,
    );
  }

  let pool: MoRef | undefined;
  let host: MoRef | undefined;
  if (where.cluster) {
    const cluster = pick(
      await within("ClusterComputeResource", ["resourcePool"]),
      where.cluster,
      "cluster",
      "cluster",
    );
    pool = moRef(cluster.props.get("resourcePool"));
  }
  if (where.esxHost) {
    const found = pick(await within("HostSystem", ["parent"]), where.esxHost, "esx_host", "ESX host");
    host = found.ref;
    const parent = moRef(found.props.get("parent"));
    if (!pool && parent)
      pool = moRef((await client.properties(parent, ["resourcePool"], signal)).get("resourcePool"));
  }
  if (!pool) {
    const computes = await within("ComputeResource", ["resourcePool"]);
    if (computes.length !== 1) {
      throw new ProviderError(
        "E_PROVIDER_INPUT",
        `vmware: datacenter ${nameOf(dc)} has ${computes.length} clusters or hosts (${names(computes)}); name one in instance.cluster or instance.esx_host`,
      );
    }
    pool = moRef(computes[0]!.props.get("resourcePool"));
  }
  if (!pool)
    throw new ProviderError("E_PROVIDER_INPUT", "vmware: the chosen cluster or host has no resource pool");

  const datastore = where.datastore
    ? pick(await within("Datastore", []), where.datastore, "datastore", "datastore").ref
    : undefined;
  const folder = where.folder
    ? pick(await within("Folder", []), where.folder, "folder", "folder").ref
    : moRef(dc.props.get("vmFolder"));
  if (!folder)
    throw new ProviderError("E_PROVIDER_UNAVAILABLE", `vmware: datacenter ${nameOf(dc)} has no VM folder`);
  return { template: template.ref, folder, pool, host, datastore };
}

/** The VirtualMachineRelocateSpec of a clone (element order is the vim25 schema's). */
export function locationSpec(p: ResolvedPlacement): XmlElement {
  return node("location", [
    p.datastore && refElement("datastore", p.datastore),
    refElement("pool", p.pool),
    p.host && refElement("host", p.host),
  ]);
}

/** The one object named `name` (or the only one when no name is given). */
function pick(
  objects: ObjectContent[],
  name: string | undefined,
  field: string,
  what: string,
): ObjectContent {
  const matches = name === undefined ? objects : objects.filter((o) => nameOf(o) === name);
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) {
    throw new ProviderError(
      "E_PROVIDER_INPUT",
      name === undefined
        ? `vmware: there are ${matches.length} of ${what} (${names(matches)}); name one in instance.${field}`
        : `vmware: ${matches.length} objects are named ${name} (${matches.map((m) => m.ref.value).join(", ")}); rename one in vCenter`,
    );
  }
  throw new ProviderError(
    "E_PROVIDER_INPUT",
    `vmware: no ${what} named ${name ?? "(any)"} (known: ${names(objects) || "none"}); fix instance.${field} or modules.vmware.with`,
  );
}

export function nameOf(o: ObjectContent): string {
  return textOf(o.props.get("name")) ?? "";
}

function names(objects: ObjectContent[]): string {
  return objects.map(nameOf).sort().slice(0, 20).join(", ");
}

/** An extraConfig / OptionValue entry. */
export function optionValue(name: string, key: string, value: string): XmlElement {
  return node(name, [leaf("key", key), leaf("value", value, { "xsi:type": "xsd:string" })], {
    "xsi:type": "OptionValue",
  });
}
