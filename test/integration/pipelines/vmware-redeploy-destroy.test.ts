// deploy, redeploy and destroy end to end through the jarvis CLI on VMware's own vCenter
// simulator (vcsim), as cloud-redeploy-destroy.test.ts does for Linode and EC2. vcsim runs no
// guests, so vcsim-guest.ts plays each VM's cloud-init and VMware Tools: a real sshd on 127.0.0.1
// at one port authorising the keys from the VM's guestinfo userdata, then the address reported to
// the simulator. named, slapd and Alertmanager are real. Needs `npx tsc -p .` first.
import { afterAll, beforeAll, expect, it } from "vitest";
import { vcsimAvailable } from "../servers/vcsim.js";
import { clipboardFrom, expectForgotten, expectRegistered } from "./services.js";
import { VSPHERE_PASSWORD, startVmwareEnv } from "./vmware-env.js";
import type { VmwareEnv } from "./vmware-env.js";

let vm: VmwareEnv;
beforeAll(async () => {
  if (vcsimAvailable()) vm = await startVmwareEnv();
}, 900_000);
afterAll(async () => {
  await vm?.stop();
});

async function clipboard(
  host: string,
): Promise<{ id: string; address: string; hostKeys: string[]; fingerprints: string[] }> {
  const r = await vm.env.cli(["clipboard", host, "--json"]);
  expect(r.code, r.stderr).toBe(0);
  const clip = clipboardFrom(r.stdout);
  return {
    id: String(clip.vmware!.id),
    address: clip.vmware!.ipv4 as string,
    hostKeys: clip.ssh!.host_keys as string[],
    fingerprints: clip.ssh!.fingerprints as string[],
  };
}

it.runIf(vcsimAvailable())(
  "deploy, redeploy and destroy a VMware VM through the CLI: new VM and host keys in DNS and LDAP, then gone",
  { timeout: 300_000 },
  async () => {
    const { env, s, explain } = vm;
    const file = vm.design("freya");
    const deployed = await env.cli(["run", "deploy", file]);
    expect(deployed.code, explain(deployed)).toBe(0);
    const before = await clipboard("freya");
    expect(before.address).toBe("127.0.0.1");
    expect(before.id).toMatch(/^vm-/);
    await expectRegistered(s, "freya", before.address, before.fingerprints);

    const redeployed = await env.cli(["run", "redeploy", file]);
    expect(redeployed.code, explain(redeployed)).toBe(0);
    const after = await clipboard("freya");
    expect(after.id).not.toBe(before.id);
    expect(after.hostKeys.some((k) => before.hostKeys.includes(k))).toBe(false);
    await expectRegistered(s, "freya", after.address, after.fingerprints);

    const destroyed = await env.cli(["run", "destroy", file]);
    expect(destroyed.code, explain(destroyed)).toBe(0);
    await expectForgotten(s, "freya");
    const again = await env.cli(["run", "destroy", file]);
    expect(again.code, explain(again)).toBe(0);

    const out = [deployed, redeployed, destroyed, again].map((r) => r.stdout + r.stderr).join("\n");
    for (const secret of [VSPHERE_PASSWORD, s.named.secret, s.slapd.password])
      expect(out).not.toContain(secret);
  },
);
