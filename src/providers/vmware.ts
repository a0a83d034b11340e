/**
 * The VMware provider: VMs cloned from a template in vCenter (or on a bare ESX host) through the
 * vim25 SOAP client in vsphere/. A VM's name is the hostname, which is how a repeated deploy finds
 * the VM it made before; templates are never found, powered off or destroyed by name. The VMs
 * jarvis makes carry an annotation so `list` shows only those.
 */
import { ProviderError } from "../errors.js";
import { pollUntil, withRetry } from "./retry.js";
import type { RetryPolicy, WaitPolicy } from "./retry.js";
import type { HostInfo, HostSpec, Provider } from "./provider.js";
import { guestinfoFor } from "./vmware-guestinfo.js";
import type { GuestinfoMode } from "./vmware-guestinfo.js";
import { locationSpec, nameOf, optionValue, resolvePlacement } from "./vmware-placement.js";
import type { VmwarePlacement } from "./vmware-placement.js";
import { moRef, refElement } from "./vsphere/client.js";
import type { MoRef, ObjectContent, VsphereClient } from "./vsphere/client.js";
import { leaf, node, textOf } from "./vsphere/xml.js";
import type { XmlElement } from "./vsphere/xml.js";

/** The annotation every jarvis-made VM carries. */
export const VMWARE_ANNOTATION = "deployed by jarvis";

const VM_PATHS = [
  "name",
  "config.template",
  "config.annotation",
  "config.hardware.memoryMB",
  "config.hardware.numCPU",
  "runtime.powerState",
  "guest.ipAddress",
];

/** What the VMware provider is configured with. */
export interface VmwareOptions {
  client: VsphereClient;
  placement: VmwarePlacement;
  /** CPUs for a new VM (the template's when unset). */
  cpus?: number;
  /** The design's guestid -> template name, where they differ. */
  templates?: Record<string, string>;
  guestinfo: GuestinfoMode;
  retry: RetryPolicy;
  wait: WaitPolicy;
  log(line: string): void;
}

/** A VM as read from the inventory. */
export interface VmState {
  ref: MoRef;
  name: string;
  template: boolean;
  annotation: string;
  memoryMB?: number;
  cpus?: number;
  powerState: string;
  ipAddress?: string;
}

export function vmState(o: ObjectContent): VmState {
  const text = (path: string): string | undefined => textOf(o.props.get(path)) || undefined;
  const num = (path: string): number | undefined => {
    const n = Number(text(path));
    return Number.isFinite(n) && n > 0 ? n : undefined;
  };
  return {
    ref: o.ref,
    name: nameOf(o),
    template: text("config.template") === "true",
    annotation: text("config.annotation") ?? "",
    memoryMB: num("config.hardware.memoryMB"),
    cpus: num("config.hardware.numCPU"),
    powerState: text("runtime.powerState") ?? "unknown",
    ipAddress: text("guest.ipAddress"),
  };
}

/** A VM as jarvis sees it; a link-local address is no address yet (DHCP has not answered). */
export function vmInfo(vm: VmState): HostInfo {
  const info: HostInfo = {
    id: vm.ref.value,
    label: vm.name,
    state: vm.powerState === "poweredOn" ? "running" : vm.powerState === "unknown" ? "unknown" : "offline",
  };
  const ip = vm.ipAddress;
  if (ip && !ip.startsWith("169.254.") && !ip.toLowerCase().startsWith("fe80:")) {
    if (ip.includes(":")) info.ipv6 = ip;
    else info.ipv4 = ip;
  }
  return info;
}

export class VmwareProvider implements Provider {
  readonly name = "vmware";
  readonly newNodeAddresses = ["ipv4"] as const;

  constructor(private readonly opts: VmwareOptions) {}

  planCreate(spec: HostSpec): Record<string, unknown> {
    if (!spec.image) {
      throw new ProviderError(
        "E_PROVIDER_INPUT",
        "vmware: the design names no template; set instance.guestid (the template's name, or a key of modules.vmware.with.templates)",
      );
    }
    const memoryMB = memoryOf(spec.size);
    return {
      label: spec.hostname,
      template: this.opts.templates?.[spec.image] ?? spec.image,
      datacenter: spec.region ?? this.opts.placement.datacenter ?? null,
      ...(memoryMB !== undefined ? { memory_mb: memoryMB } : {}),
      ...(this.opts.cpus !== undefined ? { cpus: this.opts.cpus } : {}),
    };
  }

  async deploy(spec: HostSpec, signal: AbortSignal): Promise<HostInfo> {
    const memoryMB = memoryOf(spec.size);
    let vm = await this.findVm(spec.hostname, signal);
    if (vm) {
      this.opts.log(
        `vmware: ${spec.hostname} exists already (${vm.ref.value}, ${vm.powerState}); not cloning another`,
      );
    } else {
      vm = await this.clone(spec, memoryMB, signal);
    }
    await this.ensureShape(vm, memoryMB, signal);
    await this.call(`power on ${spec.hostname}`, signal, async () => {
      const now = await this.findVm(spec.hostname, signal);
      if (!now) throw gone(spec.hostname);
      if (now.powerState === "poweredOn") return;
      await this.task("PowerOnVM_Task", now.ref, [], signal);
    });
    return pollUntil(
      `vmware: ${spec.hostname} reporting its IP through VMware Tools`,
      async () => {
        const now = await this.findVm(spec.hostname, signal);
        if (!now) throw gone(spec.hostname);
        const info = vmInfo(now);
        return info.ipv4 || info.ipv6 ? info : undefined;
      },
      this.opts.wait,
      signal,
    );
  }

  async find(label: string, signal: AbortSignal): Promise<HostInfo | undefined> {
    const vm = await this.findVm(label, signal);
    return vm ? vmInfo(vm) : undefined;
  }

  async powerOff(label: string, signal: AbortSignal): Promise<void> {
    await this.call(`power off ${label}`, signal, async () => {
      const vm = await this.findVm(label, signal);
      if (!vm || vm.powerState === "poweredOff") return;
      await this.task("PowerOffVM_Task", vm.ref, [], signal);
    });
  }

  async delete(label: string, signal: AbortSignal): Promise<void> {
    await this.call(`destroy ${label}`, signal, async () => {
      const vm = await this.findVm(label, signal);
      if (!vm) return;
      try {
        if (vm.powerState !== "poweredOff") await this.task("PowerOffVM_Task", vm.ref, [], signal);
        await this.task("Destroy_Task", vm.ref, [], signal);
      } catch (err) {
        // Destroyed between our lookup and the call: the goal is reached.
        if (err instanceof ProviderError && err.code === "E_PROVIDER_NOT_FOUND") return;
        throw err;
      }
    });
  }

  async list(signal: AbortSignal): Promise<HostInfo[]> {
    const vms = await this.call("list VMs", signal, () => this.allVms(signal));
    return vms.filter((vm) => !vm.template && vm.annotation.startsWith(VMWARE_ANNOTATION)).map(vmInfo);
  }

  private async clone(spec: HostSpec, memoryMB: number | undefined, signal: AbortSignal): Promise<VmState> {
    if (!spec.image) {
      throw new ProviderError(
        "E_PROVIDER_INPUT",
        "vmware: the design names no template; set instance.guestid (the template's name, or a key of modules.vmware.with.templates)",
      );
    }
    const templateName = this.opts.templates?.[spec.image] ?? spec.image;
    const where = { ...this.opts.placement, datacenter: spec.region ?? this.opts.placement.datacenter };
    const placement = await this.call("look up the placement", signal, () =>
      resolvePlacement(this.opts.client, templateName, where, signal),
    );
    const extra = guestinfoFor(spec, this.opts.guestinfo).map(([k, v]) => optionValue("extraConfig", k, v));
    const cloneSpec = node("spec", [
      locationSpec(placement),
      leaf("template", false),
      configSpec(memoryMB, this.opts.cpus, extra),
      leaf("powerOn", false),
    ]);
    try {
      await this.task(
        "CloneVM_Task",
        placement.template,
        [refElement("folder", placement.folder), leaf("name", spec.hostname), cloneSpec],
        signal,
      );
      this.opts.log(`vmware: cloned ${spec.hostname} from ${templateName}`);
    } catch (err) {
      // Another run cloned it between our lookup and our clone: converge on theirs.
      if (!(err instanceof ProviderError && err.code === "E_PROVIDER_DUPLICATE")) throw err;
      this.opts.log(`vmware: ${spec.hostname} appeared while cloning; using it`);
    }
    const vm = await this.findVm(spec.hostname, signal);
    if (!vm) throw gone(spec.hostname);
    return vm;
  }

  /**
   * Memory, CPUs and the annotation as the design says, changed while the VM is off (some
   * vCenters, and the simulator, keep the template's hardware on clone). A running VM is left
   * alone: resizing it is a redeploy's job.
   */
  private async ensureShape(vm: VmState, memoryMB: number | undefined, signal: AbortSignal): Promise<void> {
    const memory = memoryMB !== undefined && vm.memoryMB !== memoryMB ? memoryMB : undefined;
    const cpus = this.opts.cpus !== undefined && vm.cpus !== this.opts.cpus ? this.opts.cpus : undefined;
    const annotate = !vm.annotation.startsWith(VMWARE_ANNOTATION);
    if (memory === undefined && cpus === undefined && !annotate) return;
    if (vm.powerState !== "poweredOff") {
      if (memory !== undefined || cpus !== undefined)
        this.opts.log(
          `vmware: ${vm.name} runs with other memory or CPUs than the design; redeploy to change them`,
        );
      return;
    }
    await this.call(`reconfigure ${vm.name}`, signal, () =>
      this.task("ReconfigVM_Task", vm.ref, [configSpec(memory, cpus, [], "spec")], signal),
    );
  }

  private async findVm(name: string, signal: AbortSignal): Promise<VmState | undefined> {
    const vms = await this.call(`find ${name}`, signal, () => this.allVms(signal));
    const matches = vms.filter((vm) => vm.name === name && !vm.template);
    if (matches.length > 1) {
      throw new ProviderError(
        "E_PROVIDER_DUPLICATE",
        `vmware: ${matches.length} VMs are named ${name} (${matches.map((m) => m.ref.value).join(", ")}); remove or rename the extra ones in vCenter`,
      );
    }
    return matches[0];
  }

  private async allVms(signal: AbortSignal): Promise<VmState[]> {
    return (await this.opts.client.objectsOfType("VirtualMachine", VM_PATHS, signal)).map(vmState);
  }

  private async task(
    method: string,
    self: MoRef,
    args: XmlElement[],
    signal: AbortSignal,
  ): Promise<MoRef | undefined> {
    const result = await this.opts.client.runTask(method, self, args, signal, this.opts.wait.timeoutMs);
    return moRef(result);
  }

  private call<T>(what: string, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    return withRetry(`vmware: ${what}`, fn, this.opts.retry, signal, this.opts.log);
  }
}

/** A VirtualMachineConfigSpec (element order is the vim25 schema's). */
function configSpec(
  memoryMB: number | undefined,
  cpus: number | undefined,
  extraConfig: XmlElement[],
  name = "config",
): XmlElement {
  return node(name, [
    leaf("annotation", VMWARE_ANNOTATION),
    cpus === undefined ? undefined : leaf("numCPUs", Math.floor(cpus)),
    memoryMB === undefined ? undefined : leaf("memoryMB", Math.floor(memoryMB)),
    ...extraConfig,
  ]);
}

/** The design's size is memory in MB for VMware (CPUs come from instance.cpus). */
function memoryOf(size: number | string | undefined): number | undefined {
  if (size === undefined) return undefined;
  const n = typeof size === "number" ? size : Number(size);
  if (!Number.isInteger(n) || n < 4) {
    throw new ProviderError(
      "E_PROVIDER_INPUT",
      `vmware: instance.size must be memory in MB (e.g. 2048), got ${JSON.stringify(size)}`,
    );
  }
  return n;
}

function gone(name: string): ProviderError {
  return new ProviderError(
    "E_PROVIDER_GONE",
    `vmware: ${name} vanished while deploying; someone deleted it — run deploy again`,
    { retryable: true },
  );
}
