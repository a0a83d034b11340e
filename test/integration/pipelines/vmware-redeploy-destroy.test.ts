// deploy, redeploy and destroy end to end through the jarvis CLI on VMware's own vCenter
// simulator (vcsim), as cloud-redeploy-destroy.test.ts does for Linode and EC2. vcsim runs no
// guests, so vcsim-guest.ts plays each VM's cloud-init and VMware Tools: a real sshd on 127.0.0.1
// at one port authorising the keys from the VM's guestinfo userdata, then the address reported to
// the simulator. named, slapd and Alertmanager are real. Needs `npx tsc -p .` first.
import { afterAll, beforeAll, expect, it } from "vitest";
import { readFileSync, rmSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { ensureDeployKey } from "../../../src/workers/deploy-key.js";
import { makeJarvisEnv } from "../../helpers/jarvis-env.js";
import type { JarvisEnv } from "../../helpers/jarvis-env.js";
import { freePort } from "../../helpers/net.js";
import { InstanceSshds } from "../servers/instance-sshd.js";
import { startVcsim, vcsimAvailable } from "../servers/vcsim.js";
import type { Vcsim } from "../servers/vcsim.js";
import { watchGuests } from "../servers/vcsim-guest.js";
import type { VcsimGuests } from "../servers/vcsim-guest.js";
import {
  clipboardFrom,
  expectForgotten,
  expectRegistered,
  modulesConfig,
  startServices,
} from "./services.js";
import type { Services } from "./services.js";

const USER = "jarvis@vsphere.local";
const PASSWORD = "vs-e2e-Secret-77aa";
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

let s: Services;
let sim: Vcsim;
let guests: VcsimGuests;
let env: JarvisEnv;
beforeAll(async () => {
  if (!vcsimAvailable()) return;
  const sshPort = await freePort();
  [s, sim] = await Promise.all([
    startServices(),
    startVcsim({ username: USER, password: PASSWORD, templates: ["debian-12"] }),
  ]);
  guests = watchGuests({
    url: sim.url,
    caFile: sim.caFile,
    username: USER,
    password: PASSWORD,
    address: "127.0.0.1",
    sshds: new InstanceSshds(sshPort),
  });
  env = makeJarvisEnv();
  const keyPath = join(env.dir, "keys/deploy_ed25519");
  await ensureDeployKey(keyPath);
  const ssh = JSON.stringify({ port: sshPort, deploy_key: keyPath, user: userInfo().username });
  const vmware = JSON.stringify({ url: sim.url, ca_file: sim.caFile, cluster: "DC0_C0", ...WAITS });
  env.write(
    "jarvis.yml",
    `${readFileSync(env.configPath, "utf8")}\n${modulesConfig(
      s,
      `  vmware:\n    with: ${vmware}\n    env: { VSPHERE_USER: "${USER}", VSPHERE_PASSWORD: "${PASSWORD}" }\n  ssh:\n    with: ${ssh}\n  agent:\n    with: ${ssh}\n`,
    )}`,
  );
}, 900_000);
afterAll(async () => {
  await guests?.stop();
  await Promise.all([sim?.stop(), s?.stop()]);
  if (env) rmSync(env.dir, { recursive: true, force: true });
});

function design(host: string): string {
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
}

async function clipboard(
  host: string,
): Promise<{ id: string; address: string; hostKeys: string[]; fingerprints: string[] }> {
  const r = await env.cli(["clipboard", host, "--json"]);
  expect(r.code, r.stderr).toBe(0);
  const clip = clipboardFrom(r.stdout);
  return {
    id: String(clip.vmware!.id),
    address: clip.vmware!.ipv4 as string,
    hostKeys: clip.ssh!.host_keys as string[],
    fingerprints: clip.ssh!.fingerprints as string[],
  };
}

const explain = (r: { stdout: string; stderr: string }): string =>
  `${r.stdout}${r.stderr}\nguest errors: ${guests.errors.join("; ")}`;

it.runIf(vcsimAvailable())(
  "deploy, redeploy and destroy a VMware VM through the CLI: new VM and host keys in DNS and LDAP, then gone",
  { timeout: 300_000 },
  async () => {
    const file = design("freya");
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
    for (const secret of [PASSWORD, s.named.secret, s.slapd.password]) expect(out).not.toContain(secret);
  },
);
