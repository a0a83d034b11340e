// One cluster design whose members live on three providers at once, deployed in one pass through
// the CLI (issue 13, "Clusters across providers"): the master on VMware (vcsim), then a node on
// Linode and a node on EC2, both `after` it, against the three API servers the provider tests
// use. Each server's instances answer SSH on 127.0.0.1 at a port of their own, which jarvis.yml
// gives per provider (`modules.<provider>.with.ssh_port`), as an operator would for images whose
// sshd is off 22 on one cloud only; credentials are per provider too. named, slapd and
// Alertmanager are real. Needs `npx tsc -p .` first.
import { afterAll, beforeAll, expect, it } from "vitest";
import { readFileSync, rmSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { ensureDeployKey } from "../../../src/workers/deploy-key.js";
import { makeJarvisEnv, repoRoot } from "../../helpers/jarvis-env.js";
import type { JarvisEnv } from "../../helpers/jarvis-env.js";
import { freePort } from "../../helpers/net.js";
import { InstanceSshds } from "../servers/instance-sshd.js";
import { startVcsim, vcsimAvailable } from "../servers/vcsim.js";
import type { Vcsim } from "../servers/vcsim.js";
import { watchGuests } from "../servers/vcsim-guest.js";
import type { VcsimGuests } from "../servers/vcsim-guest.js";
import { startLinodeApi } from "../servers/linode-api.js";
import type { LinodeApi } from "../servers/linode-api.js";
import { startEc2Api } from "../servers/ec2-api.js";
import type { Ec2Api } from "../servers/ec2-api.js";
import {
  clipboardFrom,
  expectForgotten,
  expectRegistered,
  modulesConfig,
  startServices,
} from "./services.js";
import type { Services } from "./services.js";

const VS_USER = "jarvis@vsphere.local";
const VS_PASSWORD = "vs-mixed-Secret-31bc";
const LINODE_TOKEN = "lin-mixed-token-8e02aa";
const KEY_ID = "AKIAJARVISMIXED00003";
const SECRET = "jarvisMixedSecret/cluster0123456789abcde";
const AMI = "ami-0123456789abcdef0"; // the image the EC2 test server knows
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
let linode: LinodeApi;
let ec2: Ec2Api;
let env: JarvisEnv;

beforeAll(async () => {
  if (!vcsimAvailable()) return;
  const [vmwarePort, linodePort, ec2Port] = [await freePort(), await freePort(), await freePort()];
  [s, sim, linode, ec2] = await Promise.all([
    startServices(),
    startVcsim({ username: VS_USER, password: VS_PASSWORD, templates: ["debian-12"] }),
    startLinodeApi({ token: LINODE_TOKEN, retryAfterSeconds: 0, sshPort: linodePort }),
    startEc2Api({ accessKeyId: KEY_ID, secretAccessKey: SECRET, region: "eu-west-1", sshPort: ec2Port }),
  ]);
  guests = watchGuests({
    url: sim.url,
    caFile: sim.caFile,
    username: VS_USER,
    password: VS_PASSWORD,
    address: "127.0.0.1",
    sshds: new InstanceSshds(vmwarePort),
  });
  env = makeJarvisEnv();
  const keyPath = join(env.dir, "keys/deploy_ed25519");
  await ensureDeployKey(keyPath);
  // No `port` for the ssh steps: each host's port comes from its provider's settings.
  const ssh = JSON.stringify({ deploy_key: keyPath, user: userInfo().username });
  const vmware = JSON.stringify({
    url: sim.url,
    ca_file: sim.caFile,
    cluster: "DC0_C0",
    ssh_port: vmwarePort,
    ...WAITS,
  });
  const linodeWith = JSON.stringify({ api_url: linode.url, ssh_port: linodePort, ...WAITS });
  const ec2With = JSON.stringify({
    endpoint: ec2.url,
    images: { "debian-12": AMI },
    ssh_port: ec2Port,
    ...WAITS,
  });
  env.write(
    "jarvis.yml",
    `${readFileSync(env.configPath, "utf8")}\n${modulesConfig(
      s,
      [
        `  vmware:\n    with: ${vmware}\n    env: { VSPHERE_USER: "${VS_USER}", VSPHERE_PASSWORD: "${VS_PASSWORD}" }`,
        `  linode:\n    with: ${linodeWith}\n    env: { LINODE_TOKEN: "${LINODE_TOKEN}" }`,
        `  ec2:\n    with: ${ec2With}\n    env: { AWS_ACCESS_KEY_ID: "${KEY_ID}", AWS_SECRET_ACCESS_KEY: "${SECRET}", AWS_REGION: eu-west-1 }`,
        `  ssh:\n    with: ${ssh}`,
        `  agent:\n    with: ${ssh}\n`,
      ].join("\n"),
    )}`,
  );
}, 900_000);

afterAll(async () => {
  await guests?.stop();
  await Promise.all([sim?.stop(), s?.stop(), linode?.close(), ec2?.close()]);
  if (env) rmSync(env.dir, { recursive: true, force: true });
});

const explain = (r: { stdout: string; stderr: string }): string =>
  `${r.stdout}${r.stderr}\nguest errors: ${guests.errors.join("; ")}\nlinode sshd: ${linode.sshds?.errors.join("; ")}\nec2 sshd: ${ec2.sshds?.errors.join("; ")}`;

it.runIf(vcsimAvailable())(
  "deploys a master on VMware, then nodes on Linode and EC2 after it, in one pass; destroys them all",
  { timeout: 600_000 },
  async () => {
    const file = join(repoRoot, "examples/cluster.yml");
    const deployed = await env.cli(["run", "deploy", file, "--json"]);
    expect(deployed.code, explain(deployed)).toBe(0);

    const expected = { "k8s-master": "vmware", "k8s-node-linode": "linode", "k8s-node-ec2": "ec2" } as const;
    for (const [host, provider] of Object.entries(expected)) {
      const r = await env.cli(["clipboard", host, "--json"]);
      expect(r.code, r.stderr).toBe(0);
      const clip = clipboardFrom(r.stdout);
      expect(clip.instance!.provider).toBe(provider);
      expect(clip[provider]!.ipv4).toBe("127.0.0.1");
      await expectRegistered(s, host, "127.0.0.1", clip.ssh!.fingerprints as string[]);
    }
    // The nodes started only once the master had succeeded.
    const history = async (host: string) => {
      const r = await env.cli(["history", host, "--json"]);
      expect(r.code, r.stderr).toBe(0);
      return (JSON.parse(r.stdout) as { state: string; started_at: string; finished_at: string }[])[0]!;
    };
    const master = await history("k8s-master");
    expect(master.state).toBe("succeeded");
    for (const node of ["k8s-node-linode", "k8s-node-ec2"]) {
      const run = await history(node);
      expect(run.state).toBe("succeeded");
      expect(Date.parse(run.started_at)).toBeGreaterThanOrEqual(Date.parse(master.finished_at));
    }
    expect(linode.instances.size).toBe(1);
    expect([...ec2.instances.values()].filter((i) => i.state === "running")).toHaveLength(1);

    const destroyed = await env.cli(["run", "destroy", file]);
    expect(destroyed.code, explain(destroyed)).toBe(0);
    for (const host of Object.keys(expected)) await expectForgotten(s, host);
    expect(linode.instances.size).toBe(0);

    const out = [deployed, destroyed].map((r) => r.stdout + r.stderr).join("\n");
    for (const secret of [VS_PASSWORD, LINODE_TOKEN, SECRET, s.named.secret, s.slapd.password])
      expect(out).not.toContain(secret);
  },
);
