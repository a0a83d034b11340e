// deploy, redeploy and destroy end to end through the jarvis CLI against the Linode and EC2 API
// test servers, reached by the real SDKs. The servers give each running instance a real sshd on
// 127.0.0.1 (its public address) at one port, which jarvis.yml tells the ssh steps
// (modules.ssh.with.port), so ssh:wait, DNS (A, SSHFP) and LDAP work on real host keys; named,
// slapd and Alertmanager are real too. Needs `npx tsc -p .` first (npm test builds).
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { readFileSync, rmSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { ensureDeployKey } from "../../../src/workers/deploy-key.js";
import { makeJarvisEnv } from "../../helpers/jarvis-env.js";
import type { JarvisEnv } from "../../helpers/jarvis-env.js";
import { freePort } from "../../helpers/net.js";
import { startEc2Api } from "../servers/ec2-api.js";
import type { Ec2Api } from "../servers/ec2-api.js";
import { startLinodeApi } from "../servers/linode-api.js";
import type { LinodeApi } from "../servers/linode-api.js";
import type { InstanceSshds } from "../servers/instance-sshd.js";
import {
  clipboardFrom,
  expectForgotten,
  expectRegistered,
  modulesConfig,
  startServices,
} from "./services.js";
import type { Services } from "./services.js";

// The operator's key from the design; jarvis adds its own deploy key when it creates the host.
const OPERATOR_KEY =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAswVXqfxOkOM1h9osfsETZbgKXK7xQ5XoOozfIXPGGG ops@example.test";

const LINODE_TOKEN = "lin-e2e-token-5d21c9";
const KEY_ID = "AKIAJARVISE2E00002";
const SECRET = "jarvisE2eSecret/redeploy0123456789abcdef";
const AMI = "ami-0123456789abcdef0";
// Quick polls, but generous bounds: a loaded machine may take a while to start an sshd.
const WAITS = {
  poll_ms: 50,
  poll_max_ms: 500,
  wait_timeout_s: 120,
  retry_base_ms: 10,
  retry_max_ms: 100,
  api_attempts: 4,
};

/** One cloud API test server as the test drives it. */
interface Cloud {
  provider: "linode" | "ec2";
  /** jarvis.yml `modules.<provider>` lines. */
  config: string;
  /** The design's provider-specific fields. */
  instance: Record<string, unknown>;
  /** Ids of the instances that exist and are not being terminated. */
  live(): string[];
  sshds: InstanceSshds | undefined;
  close(): Promise<void>;
}

async function startCloud(provider: "linode" | "ec2", sshPort: number): Promise<Cloud> {
  if (provider === "linode") {
    const api: LinodeApi = await startLinodeApi({ token: LINODE_TOKEN, retryAfterSeconds: 0, sshPort });
    return {
      provider,
      config: `  linode:\n    with: ${JSON.stringify({ api_url: api.url, ...WAITS })}\n    env: { LINODE_TOKEN: "${LINODE_TOKEN}" }\n`,
      instance: { size: 1024, datacenter: "us-east", guestid: "debian-12" },
      live: () => [...api.instances.values()].map((l) => String(l.id)),
      sshds: api.sshds,
      close: () => api.close(),
    };
  }
  const api: Ec2Api = await startEc2Api({
    accessKeyId: KEY_ID,
    secretAccessKey: SECRET,
    region: "eu-west-1",
    sshPort,
  });
  return {
    provider,
    config: `  ec2:\n    with: ${JSON.stringify({ endpoint: api.url, images: { "debian-12": AMI }, ...WAITS })}\n    env: { AWS_ACCESS_KEY_ID: "${KEY_ID}", AWS_SECRET_ACCESS_KEY: "${SECRET}", AWS_REGION: eu-west-1 }\n`,
    instance: { size: 1024, region: "eu-west-1", guestid: "debian-12" },
    live: () =>
      [...api.instances.values()]
        .filter((i) => i.state !== "shutting-down" && i.state !== "terminated")
        .map((i) => i.instanceId),
    sshds: api.sshds,
    close: () => api.close(),
  };
}

let s: Services;
beforeAll(async () => {
  s = await startServices();
});
afterAll(async () => {
  await s?.stop();
});

describe.each(["linode", "ec2"] as const)(
  "deploy, redeploy and destroy on %s through the CLI",
  (provider) => {
    let cloud: Cloud;
    let env: JarvisEnv;

    beforeEach(async () => {
      const sshPort = await freePort();
      cloud = await startCloud(provider, sshPort);
      env = makeJarvisEnv();
      const keyPath = join(env.dir, "keys/deploy_ed25519");
      await ensureDeployKey(keyPath);
      // The instance's sshd listens on sshPort: every step that opens SSH is told so.
      const ssh = JSON.stringify({ port: sshPort, deploy_key: keyPath, user: userInfo().username });
      env.write(
        "jarvis.yml",
        `${readFileSync(env.configPath, "utf8")}\n${modulesConfig(s, `${cloud.config}  ssh:\n    with: ${ssh}\n  agent:\n    with: ${ssh}\n`)}`,
      );
    });
    afterEach(async () => {
      await cloud?.close();
      if (env) rmSync(env.dir, { recursive: true, force: true });
    });

    /** A design for `host` at this provider; the deploy key goes in as the host's authorised key. */
    function design(host: string, production = false): string {
      const instance = {
        hostname: host,
        fqdn: `${host}.example.test`,
        provider,
        production,
        sshpubkey: [OPERATOR_KEY],
        ...cloud.instance,
      };
      return env.write(`${host}-${production ? "prod" : "plain"}.yml`, JSON.stringify({ instance }));
    }

    async function clipboard(
      host: string,
    ): Promise<{ id: string; address: string; hostKeys: string[]; fingerprints: string[] }> {
      const r = await env.cli(["clipboard", host, "--json"]);
      expect(r.code, r.stderr).toBe(0);
      const clip = clipboardFrom(r.stdout);
      const section = clip[provider]!;
      return {
        id: String(section.id),
        address: section.ipv4 as string,
        hostKeys: clip.ssh!.host_keys as string[],
        fingerprints: clip.ssh!.fingerprints as string[],
      };
    }

    function explain(r: { stdout: string; stderr: string }): string {
      return `${r.stdout}${r.stderr}\nsshd errors: ${cloud.sshds?.errors.join("; ") ?? ""}`;
    }

    it(
      "redeploy makes a new node with new host keys in DNS and LDAP; production is refused; destroy removes everything",
      { timeout: 300_000 },
      async () => {
        const file = design("freya");
        const deployed = await env.cli(["run", "deploy", file]);
        expect(deployed.code, explain(deployed)).toBe(0);
        const before = await clipboard("freya");
        expect(before.address).toBe("127.0.0.1");
        expect(cloud.live()).toEqual([before.id]);
        await expectRegistered(s, "freya", before.address, before.fingerprints);

        // The same host marked as production: redeploy stops at production:check, nothing is touched.
        const refused = await env.cli(["run", "redeploy", design("freya", true)]);
        expect(refused.code).not.toBe(0);
        expect(refused.stdout + refused.stderr).toMatch(/freya serves production/);
        expect(cloud.live()).toEqual([before.id]);
        await expectRegistered(s, "freya", before.address, before.fingerprints);

        const redeployed = await env.cli(["run", "redeploy", file]);
        expect(redeployed.code, explain(redeployed)).toBe(0);
        const after = await clipboard("freya");
        expect(after.id).not.toBe(before.id);
        expect(cloud.live()).toEqual([after.id]);
        expect(after.hostKeys.some((k) => before.hostKeys.includes(k))).toBe(false);
        await expectRegistered(s, "freya", after.address, after.fingerprints);
        const ldif = await s.slapd.search(`ou=Hosts,${s.slapd.baseDn}`, "(cn=freya)");
        for (const fp of before.fingerprints) expect(ldif).not.toContain(fp);

        const destroyed = await env.cli(["run", "destroy", file]);
        expect(destroyed.code, explain(destroyed)).toBe(0);
        expect(cloud.live()).toEqual([]);
        await expectForgotten(s, "freya");
        const again = await env.cli(["run", "destroy", file]);
        expect(again.code, explain(again)).toBe(0);

        const out = [deployed, refused, redeployed, destroyed, again]
          .map((r) => r.stdout + r.stderr)
          .join("\n");
        for (const secret of [LINODE_TOKEN, SECRET, s.named.secret, s.slapd.password])
          expect(out).not.toContain(secret);
      },
    );
  },
);
