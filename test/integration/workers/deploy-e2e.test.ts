import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { makeJarvisEnv, repoRoot } from "../../helpers/jarvis-env.js";
import type { JarvisEnv } from "../../helpers/jarvis-env.js";
import { eventually } from "../../helpers/net.js";
import { startAlertmanager } from "../servers/alertmanager.js";
import type { AlertmanagerServer } from "../servers/alertmanager.js";
import { startBind9 } from "../servers/bind9.js";
import type { Bind9Server } from "../servers/bind9.js";
import { startSlapd } from "../servers/slapd.js";
import type { SlapdServer } from "../servers/slapd.js";
import { runStep } from "./run-step.js";
import type { ChildProcess } from "node:child_process";

let named: Bind9Server;
let slapd: SlapdServer;
let am: AlertmanagerServer;
const envs: JarvisEnv[] = [];

function configFor(): string {
  return `modules:
  dns:
    with: { server: 127.0.0.1, port: ${named.port}, zone: ${named.zone}, key_name: ${named.keyName} }
    env: { DNS_TSIG_SECRET: "${named.secret}" }
  ldap:
    with: { url: "${slapd.url}", base_dn: "${slapd.baseDn}", bind_dn: "${slapd.bindDn}" }
    env: { LDAP_BIND_PASSWORD: "${slapd.password}" }
  monitoring:
    with: { url: "${am.url}", lease: 30m }
`;
}

async function statusJson(
  env: JarvisEnv,
  host: string,
): Promise<{ state: string; run: string; step: { index: number } } | undefined> {
  const r = await env.cli(["status", host, "--json"]);
  return r.code === 0 ? JSON.parse(r.stdout) : undefined;
}

/** The end state the issue asks for: DNS A + SSHFP, LDAP address + fingerprints, no active silence. */
async function expectDeployed(env: JarvisEnv, host: string): Promise<void> {
  const status = await statusJson(env, host);
  expect(status?.state).toBe("succeeded");
  const clip = JSON.parse((await env.cli(["clipboard", host, "--json"])).stdout) as Record<string, unknown>;
  const local = (clip.clipboard ?? clip) as Record<string, Record<string, unknown>>;
  const address = local.local!.ipv4 as string;
  const fingerprints = local.ssh!.fingerprints as string[];
  expect(await named.dig(`${host}.example.test`, "A")).toEqual([address]);
  expect((await named.dig(`${host}.example.test`, "SSHFP")).length).toBe(2 * fingerprints.length);
  const ldif = await slapd.search(`ou=Hosts,${slapd.baseDn}`, `(cn=${host})`);
  expect(ldif).toContain(`ipHostNumber: ${address}`);
  for (const fp of fingerprints) expect(ldif).toContain(`info: ${fp}`);
  expect((await am.silences()).filter((s) => s.status.state === "active")).toEqual([]);
}

describe("deploy.yml end to end: local provider, real sshd, bind9, slapd, alertmanager", () => {
  beforeAll(async () => {
    [named, slapd, am] = await Promise.all([startBind9(), startSlapd(), startAlertmanager()]);
  });
  afterAll(async () => {
    for (const env of envs) {
      for (const host of ["loki", "thor"])
        await runStep("providers/local-step", "delete", { instance: { hostname: host } }, { cwd: env.dir });
    }
    await Promise.all([named?.stop(), slapd?.stop(), am?.stop()]);
  });

  it("deploys examples/loki.yml and leaves DNS, LDAP and monitoring as they should be", async () => {
    const env = makeJarvisEnv({ extraConfig: configFor() });
    envs.push(env);
    const r = await env.cli(["run", "deploy", join(repoRoot, "examples/loki.yml")]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    await expectDeployed(env, "loki");
    // Deploying again converges: same host, same records, nothing duplicated.
    const again = await env.cli(["run", "deploy", join(repoRoot, "examples/loki.yml")]);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    await expectDeployed(env, "loki");
    expect(r.stdout + r.stderr + again.stdout + again.stderr).not.toContain(named.secret);
  });

  it("converges to the same end state when the run is killed mid-way and resumed", async () => {
    const env = makeJarvisEnv({ extraConfig: configFor(), leaseSeconds: 5 });
    envs.push(env);
    // The mounts step waits (at most 2 minutes) until the test opens the gate, so jarvis is killed
    // mid-run however slow the machine is.
    const gate = join(env.dir, "open");
    env.write(
      "thor.yml",
      `instance:\n  hostname: thor\n  fqdn: thor.example.test\n  provider: local\ncommands:\n  mounts: ['i=0; while [ ! -e ${gate} ] && [ $i -lt 600 ]; do sleep 0.2; i=$((i+1)); done; test -e ${gate}']\n`,
    );
    const doomed: ChildProcess = env.spawnCli(["run", "deploy", "thor.yml"]);
    await eventually(
      async () => {
        const s = await statusJson(env, "thor");
        return s?.state === "running" && s.step.index >= 7 ? true : undefined;
      },
      180_000,
      "thor to reach the mounts step",
    );
    doomed.kill("SIGKILL");
    writeFileSync(gate, "");
    await new Promise((resolve) =>
      doomed.exitCode !== null || doomed.signalCode !== null ? resolve(null) : doomed.once("exit", resolve),
    );
    const resumed = await eventually(
      async () => {
        const res = await env.cli(["resume", "thor"]);
        return res.code === 5 ? undefined : res;
      },
      180_000,
      "resume to take over",
    );
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0);
    await expectDeployed(env, "thor");
  });
});
