/**
 * What a template's guest OS does in a real VM, for VMs in the simulator (which runs no guests):
 * cloud-init reads `guestinfo.userdata` and authorises its keys, and VMware Tools reports the
 * guest's IP. Here a watcher polls the simulator through its API; for each powered-on VM with
 * userdata it optionally starts a real sshd (instance-sshd.ts) authorising exactly the userdata's
 * keys, then reports the address as vcsim lets a guest do: ReconfigVM_Task with the extraConfig
 * key `SET.guest.ipAddress`. A VM that powers off or goes away has its sshd stopped.
 */
import { readFileSync } from "node:fs";
import { setTimeout as delay } from "node:timers/promises";
import { load } from "js-yaml";
import { VsphereClient } from "../../../src/providers/vsphere/client.js";
import { children, node, textOf } from "../../../src/providers/vsphere/xml.js";
import { optionValue } from "../../../src/providers/vmware-placement.js";
import type { InstanceSshds } from "./instance-sshd.js";

/** A running guest watcher. */
export interface VcsimGuests {
  /** The authorised keys each VM's userdata carried, by VM id (vm-NN). */
  keys: Map<string, string[]>;
  /** Failures of the watcher (tests print them when a deploy stalls). */
  errors: string[];
  stop(): Promise<void>;
}

export function watchGuests(options: {
  url: string;
  caFile: string;
  username: string;
  password: string;
  /** The address VMware Tools reports (127.0.0.1 when sshds are given). */
  address: string;
  sshds?: InstanceSshds;
}): VcsimGuests {
  const client = new VsphereClient({
    url: options.url,
    username: options.username,
    password: options.password,
    ca: readFileSync(options.caFile, "utf8"),
    log: () => undefined,
  });
  const stop = new AbortController();
  const keys = new Map<string, string[]>();
  const errors: string[] = [];
  const tick = async (): Promise<void> => {
    const vms = await client.objectsOfType(
      "VirtualMachine",
      ["config.template", "config.extraConfig", "runtime.powerState", "guest.ipAddress"],
      stop.signal,
    );
    const seen = new Set<string>();
    for (const vm of vms) {
      const id = vm.ref.value;
      const on = textOf(vm.props.get("runtime.powerState")) === "poweredOn";
      const extra = new Map(
        children(vm.props.get("config.extraConfig"), "OptionValue").map((o) => [
          textOf(o, "key"),
          textOf(o, "value"),
        ]),
      );
      const userdata = extra.get("guestinfo.userdata");
      if (!on || !userdata || textOf(vm.props.get("config.template")) === "true") continue;
      seen.add(id);
      const cloudConfig = load(Buffer.from(userdata, "base64").toString("utf8")) as {
        ssh_authorized_keys?: string[];
      };
      const authorized = cloudConfig.ssh_authorized_keys ?? [];
      keys.set(id, authorized);
      if (options.sshds) {
        options.sshds.ensure(id, authorized);
        if (!options.sshds.isUp(id)) continue;
      }
      if (textOf(vm.props.get("guest.ipAddress"))) continue;
      await client.runTask(
        "ReconfigVM_Task",
        vm.ref,
        [node("spec", [optionValue("extraConfig", "SET.guest.ipAddress", options.address)])],
        stop.signal,
        30_000,
      );
    }
    for (const id of keys.keys()) if (!seen.has(id)) await options.sshds?.stop(id);
  };
  const loop = (async () => {
    while (!stop.signal.aborted) {
      try {
        await tick();
      } catch (err) {
        // An abort is the watcher being stopped; anything else is kept for the test to show.
        if (!stop.signal.aborted) errors.push(String(err));
      }
      // Unsignalled: a stop waits at most one pause.
      await delay(100);
    }
  })();
  return {
    keys,
    errors,
    stop: async () => {
      stop.abort();
      await loop;
      await client.logout(new AbortController().signal);
      await options.sshds?.stopAll();
    },
  };
}
