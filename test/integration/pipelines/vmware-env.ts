/**
 * What the VMware pipeline tests share: VMware's own vCenter simulator (vcsim) with a debian-12
 * template, the guest watcher that plays each VM's cloud-init and VMware Tools (a real sshd per
 * VM, vcsim-guest.ts), the real named, slapd and Alertmanager, and a jarvis env whose
 * jarvis.yml points the vmware, ssh, agent, dns, ldap and monitoring modules at them.
 */
import { readFileSync, rmSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { ensureDeployKey } from "../../../src/workers/deploy-key.js";
import { VsphereClient } from "../../../src/providers/vsphere/client.js";
import { textOf } from "../../../src/providers/vsphere/xml.js";
import { makeJarvisEnv } from "../../helpers/jarvis-env.js";
import type { JarvisEnv } from "../../helpers/jarvis-env.js";
import { freePort } from "../../helpers/net.js";
import { InstanceSshds } from "../servers/instance-sshd.js";
import { startVcsim } from "../servers/vcsim.js";
import type { Vcsim } from "../servers/vcsim.js";
import { watchGuests } from "../servers/vcsim-guest.js";
import type { VcsimGuests } from "../servers/vcsim-guest.js";
import { modulesConfig, startServices } from "./services.js";
import type { Services } from "./services.js";

export const VSPHERE_USER = "jarvis@vsphere.local";
export const VSPHERE_PASSWORD = "vs-e2e-Secret-77aa";
const OPERATOR_KEY =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAswVXqfxOkOM1h9osfsETZbgKXK7xQ5XoOozfIXPGGG ops@example.test";
const WAITS = {
  poll_ms: 50,
  poll_max_ms: 500,
  wait_timeout_s: 120,
  retry_base_ms: 10,
  retry_max_ms: 100,
  api_attempts: 4,
};

/** One VM as the simulator holds it. */
export interface SimulatedVm {
  id: string;
  name: string;
  template: boolean;
  powerState: string;
  memoryMB: number;
  cpus: number;
}

/** The running setup. */
export interface VmwareEnv {
  s: Services;
  sim: Vcsim;
  guests: VcsimGuests;
  env: JarvisEnv;
  /** Write a one-host VMware design for `host`; its path. */
  design(host: string): string;
  /** Every VM in the simulator, templates included, by name. */
  vms(): Promise<SimulatedVm[]>;
  /** A CLI result with the guest watcher's errors, for failure messages. */
  explain(r: { stdout: string; stderr: string }): string;
  stop(): Promise<void>;
}

export async function startVmwareEnv(): Promise<VmwareEnv> {
  const sshPort = await freePort();
  const [s, sim] = await Promise.all([
    startServices(),
    startVcsim({ username: VSPHERE_USER, password: VSPHERE_PASSWORD, templates: ["debian-12"] }),
  ]);
  const guests = watchGuests({
    url: sim.url,
    caFile: sim.caFile,
    username: VSPHERE_USER,
    password: VSPHERE_PASSWORD,
    address: "127.0.0.1",
    sshds: new InstanceSshds(sshPort),
  });
  const env = makeJarvisEnv();
  const keyPath = join(env.dir, "keys/deploy_ed25519");
  await ensureDeployKey(keyPath);
  const ssh = JSON.stringify({ port: sshPort, deploy_key: keyPath, user: userInfo().username });
  const vmware = JSON.stringify({ url: sim.url, ca_file: sim.caFile, cluster: "DC0_C0", ...WAITS });
  env.write(
    "jarvis.yml",
    `${readFileSync(env.configPath, "utf8")}\n${modulesConfig(
      s,
      `  vmware:\n    with: ${vmware}\n    env: { VSPHERE_USER: "${VSPHERE_USER}", VSPHERE_PASSWORD: "${VSPHERE_PASSWORD}" }\n  ssh:\n    with: ${ssh}\n  agent:\n    with: ${ssh}\n`,
    )}`,
  );
  const client = new VsphereClient({
    url: sim.url,
    username: VSPHERE_USER,
    password: VSPHERE_PASSWORD,
    ca: readFileSync(sim.caFile, "utf8"),
    log: () => undefined,
  });
  return {
    s,
    sim,
    guests,
    env,
    design(host) {
      const instance = {
        hostname: host,
        fqdn: `${host}.example.test`,
        provider: "vmware",
        guestid: "debian-12",
        datacenter: "DC0",
        size: 1024,
        cpus: 1,
        sshpubkey: [OPERATOR_KEY],
      };
      return env.write(`${host}.yml`, JSON.stringify({ instance }));
    },
    async vms() {
      const found = await client.objectsOfType(
        "VirtualMachine",
        [
          "name",
          "config.template",
          "runtime.powerState",
          "config.hardware.memoryMB",
          "config.hardware.numCPU",
        ],
        new AbortController().signal,
      );
      return found
        .map((vm) => ({
          id: vm.ref.value,
          name: textOf(vm.props.get("name")) ?? "",
          template: textOf(vm.props.get("config.template")) === "true",
          powerState: textOf(vm.props.get("runtime.powerState")) ?? "",
          memoryMB: Number(textOf(vm.props.get("config.hardware.memoryMB"))),
          cpus: Number(textOf(vm.props.get("config.hardware.numCPU"))),
        }))
        .sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
    },
    explain: (r) => `${r.stdout}${r.stderr}\nguest errors: ${guests.errors.join("; ")}`,
    async stop() {
      await guests.stop();
      await Promise.all([sim.stop(), s.stop()]);
      rmSync(env.dir, { recursive: true, force: true });
    },
  };
}
