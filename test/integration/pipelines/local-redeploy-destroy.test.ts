// redeploy.yml and destroy.yml end to end through the jarvis CLI with the local provider, against
// a real sshd (the local host), named, slapd and Alertmanager the test starts. Needs
// `npx tsc -p .` first (npm test builds).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeJarvisEnv } from "../../helpers/jarvis-env.js";
import type { JarvisEnv } from "../../helpers/jarvis-env.js";
import { runStep } from "../workers/run-step.js";
import {
  clipboardFrom,
  expectForgotten,
  expectNoActiveSilence,
  expectRegistered,
  modulesConfig,
  startServices,
} from "./services.js";
import type { Services } from "./services.js";

let s: Services;
const envs: JarvisEnv[] = [];

/** The local host as jarvis's last run of it left it on the clipboard. */
async function lastClipboard(
  env: JarvisEnv,
  host: string,
): Promise<{ port: number; address: string; hostKeys: string[]; fingerprints: string[] }> {
  const r = await env.cli(["clipboard", host, "--json"]);
  expect(r.code, r.stderr).toBe(0);
  const clip = clipboardFrom(r.stdout);
  return {
    port: clip.local!.ssh_port as number,
    address: clip.local!.ipv4 as string,
    hostKeys: clip.ssh!.host_keys as string[],
    fingerprints: clip.ssh!.fingerprints as string[],
  };
}

/** What local:status says about the host: its section, or undefined when the host does not exist. */
async function localStatus(env: JarvisEnv, host: string): Promise<Record<string, unknown> | undefined> {
  const r = await runStep(
    "providers/local-step",
    "status",
    { instance: { hostname: host } },
    { cwd: env.dir },
  );
  expect(r.code, r.stderr).toBe(0);
  return r.clipboard?.local as Record<string, unknown> | undefined;
}

function design(env: JarvisEnv, host: string, production = false): string {
  return env.write(
    `${host}.yml`,
    `instance:\n  hostname: ${host}\n  fqdn: ${host}.example.test\n  provider: local\n  production: ${production}\n`,
  );
}

describe("redeploy.yml and destroy.yml with the local provider, real sshd, bind9, slapd, alertmanager", () => {
  beforeAll(async () => {
    s = await startServices();
  });
  afterAll(async () => {
    for (const env of envs) {
      for (const host of ["vali", "odin"])
        await runStep("providers/local-step", "delete", { instance: { hostname: host } }, { cwd: env.dir });
      rmSync(env.dir, { recursive: true, force: true });
    }
    await s?.stop();
  });

  it(
    "redeploy replaces the host (new host keys in DNS and LDAP); destroy removes it and every record",
    { timeout: 240_000 },
    async () => {
      const env = makeJarvisEnv({ extraConfig: modulesConfig(s) });
      envs.push(env);
      const file = design(env, "vali");
      const deployed = await env.cli(["run", "deploy", file]);
      expect(deployed.code, deployed.stdout + deployed.stderr).toBe(0);
      const before = await lastClipboard(env, "vali");
      await expectRegistered(s, "vali", before.address, before.fingerprints);

      const redeployed = await env.cli(["run", "redeploy", file]);
      expect(redeployed.code, redeployed.stdout + redeployed.stderr).toBe(0);
      const after = await lastClipboard(env, "vali");
      // The old node was deleted with its host key; the new one made its own.
      expect(after.hostKeys.some((k) => before.hostKeys.includes(k))).toBe(false);
      expect((await localStatus(env, "vali"))?.state).toBe("running");
      await expectRegistered(s, "vali", after.address, after.fingerprints);
      const ldif = await s.slapd.search(`ou=Hosts,${s.slapd.baseDn}`, "(cn=vali)");
      for (const fp of before.fingerprints) expect(ldif).not.toContain(fp);
      const status = JSON.parse((await env.cli(["status", "vali", "--json"])).stdout) as {
        state: string;
        pipeline: string;
      };
      expect(status).toMatchObject({ state: "succeeded", pipeline: "redeploy" });

      const destroyed = await env.cli(["run", "destroy", file]);
      expect(destroyed.code, destroyed.stdout + destroyed.stderr).toBe(0);
      expect(await localStatus(env, "vali")).toBeUndefined();
      expect(existsSync(join(env.dir, ".state/local/vali"))).toBe(false);
      await expectForgotten(s, "vali");
      // Destroying again converges: nothing left at the provider, in DNS or LDAP is no failure.
      const again = await env.cli(["run", "destroy", file]);
      expect(again.code, again.stdout + again.stderr).toBe(0);
      await expectForgotten(s, "vali");
      const out = [deployed, redeployed, destroyed, again].map((r) => r.stdout + r.stderr).join("\n");
      expect(out).not.toContain(s.named.secret);
      expect(out).not.toContain(s.slapd.password);
    },
  );

  it(
    "production:check stops a redeploy and a destroy of a production host unless forced",
    { timeout: 240_000 },
    async () => {
      const env = makeJarvisEnv({ extraConfig: modulesConfig(s) });
      envs.push(env);
      const file = design(env, "odin", true);
      const deployed = await env.cli(["run", "deploy", file]);
      expect(deployed.code, deployed.stdout + deployed.stderr).toBe(0);
      const before = await lastClipboard(env, "odin");

      for (const pipeline of ["redeploy", "destroy"]) {
        const refused = await env.cli(["run", pipeline, file]);
        expect(refused.code).not.toBe(0);
        expect(refused.stdout + refused.stderr).toMatch(
          /odin serves production \(instance\.production is set\)/,
        );
        // Refused before anything was touched: the same node runs, DNS and LDAP still name it.
        expect(await localStatus(env, "odin")).toMatchObject({ state: "running", ssh_port: before.port });
        await expectRegistered(s, "odin", before.address, before.fingerprints);
      }

      // Forced for one run (--force: its steps see JARVIS_FORCE=1): the redeploy goes ahead.
      const redeployed = await env.cli(["run", "redeploy", file, "--force"]);
      expect(redeployed.code, redeployed.stdout + redeployed.stderr).toBe(0);
      expect(redeployed.stdout).toMatch(/going ahead because the run is forced/);
      const after = await lastClipboard(env, "odin");
      expect(after.hostKeys.some((k) => before.hostKeys.includes(k))).toBe(false);
      await expectRegistered(s, "odin", after.address, after.fingerprints);

      // Forced for every run by configuration (modules.production.with.force): the destroy goes ahead.
      const forced = join(env.dir, "forced.yml");
      writeFileSync(
        forced,
        `${readFileSync(env.configPath, "utf8")}\n  production:\n    with: { force: true }\n`,
      );
      const destroyed = await env.cli(["--config", forced, "run", "destroy", file]);
      expect(destroyed.code, destroyed.stdout + destroyed.stderr).toBe(0);
      expect(await localStatus(env, "odin")).toBeUndefined();
      await expectForgotten(s, "odin");
      await expectNoActiveSilence(s);
    },
  );
});
