/**
 * Plan runs against the real servers the deploy uses (local provider with its own sshd, bind9,
 * slapd, alertmanager): a plan changes nothing, and the real run that follows makes exactly the
 * changes the plan listed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { makeJarvisEnv, repoRoot } from "../../helpers/jarvis-env.js";
import type { JarvisEnv } from "../../helpers/jarvis-env.js";
import { startAlertmanager } from "../servers/alertmanager.js";
import type { AlertmanagerServer } from "../servers/alertmanager.js";
import { startBind9 } from "../servers/bind9.js";
import type { Bind9Server } from "../servers/bind9.js";
import { startSlapd } from "../servers/slapd.js";
import type { SlapdServer } from "../servers/slapd.js";
import { runStep } from "./run-step.js";
import type { PlanEntry } from "../../../src/step-sdk/plan.js";

let named: Bind9Server;
let slapd: SlapdServer;
let am: AlertmanagerServer;
let env: JarvisEnv;
const fqdn = "loki.example.test";

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

interface PlanResult {
  state: string;
  plan: PlanEntry[];
  plan_unknown: string[];
}

async function plan(args: string[]): Promise<PlanResult> {
  const r = await env.cli(["run", ...args, "--plan", "--json"]);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  return JSON.parse(r.stdout) as PlanResult;
}

/** Everything outside jarvis the deploy touches, as it stands now. */
async function world(): Promise<Record<string, unknown>> {
  return {
    a: await named.dig(fqdn, "A"),
    aaaa: await named.dig(fqdn, "AAAA"),
    sshfp: (await named.dig(fqdn, "SSHFP")).sort(),
    ldap: (await slapd.search(`ou=Hosts,${slapd.baseDn}`, "(cn=loki)"))
      .split("\n")
      .filter((l) => /^(dn|ipHostNumber|info|description):/.test(l))
      .sort(),
    silences: (await am.silences()).map((s) => `${s.id} ${s.status.state}`).sort(),
    node: existsSync(join(env.dir, ".state/local/loki")),
  };
}

const find = (entries: PlanEntry[], step: string, target?: string): PlanEntry => {
  const found = entries.find((e) => e.step === step && (target === undefined || e.target === target));
  if (!found) throw new Error(`no plan entry of ${step} ${target ?? ""} in ${JSON.stringify(entries)}`);
  return found;
};

/** The data of record lines (`name. ttl IN TYPE data`), compared without case or spaces (dig splits long hex). */
const data = (lines: unknown): string[] =>
  (lines as string[]).map((l) => bare(l.split(" ").slice(4).join(" "))).sort();
const bare = (text: string): string => text.replace(/\s+/g, "").toUpperCase();

describe("plan runs: nothing changes, and the real run does exactly what was planned", () => {
  beforeAll(async () => {
    [named, slapd, am] = await Promise.all([startBind9(), startSlapd(), startAlertmanager()]);
    env = makeJarvisEnv({
      extraConfig: configFor(),
      pipelines: {
        "with-external": `steps:\n  - ok:a\n  - provider:ip\n  - dns:update_host\n`,
      },
    });
  });
  afterAll(async () => {
    if (env)
      await runStep("providers/local-step", "delete", { instance: { hostname: "loki" } }, { cwd: env.dir });
    await Promise.all([named?.stop(), slapd?.stop(), am?.stop()]);
  });

  it("plans a new host's deploy, changes nothing, and the deploy then makes those changes", async () => {
    const design = join(repoRoot, "examples/loki.yml");
    const before = await world();
    const first = await plan(["deploy", design]);
    expect(first.state).toBe("succeeded");
    expect(await world()).toEqual(before);
    expect(existsSync(join(env.dir, ".state/keys"))).toBe(false);

    const entries = first.plan;
    expect(find(entries, "local:deploy")).toMatchObject({ action: "create", target: "local node loki" });
    expect(find(entries, "ssh:prepare").action).toBe("create");
    const a = find(entries, "dns:update_host", `${fqdn}. A`);
    expect(a).toMatchObject({ action: "create", before: [] });
    expect(a.after).toEqual([`${fqdn}. 300 IN A <ipv4 of loki after local:deploy>`]);
    expect(find(entries, "dns:update_host", `${fqdn}. AAAA`)).toMatchObject({ action: "none" });
    expect(find(entries, "dns:update_host", `${fqdn}. SSHFP`).action).toBe("create");
    expect(find(entries, "ssh:keypair").action).toBe("create");
    expect(find(entries, "ldap:update_host_ou")).toMatchObject({
      action: "create",
      target: `cn=loki,ou=Hosts,${slapd.baseDn}`,
    });
    expect(find(entries, "monitoring:suppress").action).toBe("create");
    expect(find(entries, "monitoring:enable").action).toBe("delete");
    expect(first.plan_unknown).toEqual([]);

    const real = await env.cli(["run", "deploy", design]);
    expect(real.code, real.stdout + real.stderr).toBe(0);
    const after = await world();
    // Exactly the planned creates: one A, SSHFP for the host keys, no AAAA, the LDAP entry, one
    // silence (set, then expired), the node.
    expect(after.a).toEqual(["127.0.0.1"]);
    expect(after.aaaa).toEqual([]);
    expect((after.sshfp as string[]).length).toBeGreaterThan(0);
    expect(after.ldap).toContain(`dn: cn=loki,ou=Hosts,${slapd.baseDn}`);
    expect(after.silences).toHaveLength((before.silences as string[]).length + 1);
    expect((after.silences as string[]).every((s) => s.endsWith("expired"))).toBe(true);
    expect(after.node).toBe(true);
  });

  it("plans a deploy of the existing host exactly: what the plan says is what the servers hold after the run", async () => {
    const design = join(repoRoot, "examples/loki.yml");
    const before = await world();
    const second = await plan(["deploy", design]);
    expect(await world()).toEqual(before);
    const entries = second.plan;
    expect(find(entries, "local:deploy").action).toBe("none");
    expect(find(entries, "ssh:prepare").action).toBe("none");
    expect(find(entries, "ssh:keypair").action).toBe("none");
    for (const type of ["A", "AAAA", "SSHFP"]) {
      const e = find(entries, "dns:update_host", `${fqdn}. ${type}`);
      expect(e.action, type).toBe("none");
      expect(data(e.before)).toEqual(data(e.after));
    }
    expect(find(entries, "ldap:update_host_ou").action).toBe("none");
    expect(find(entries, "monitoring:suppress").action).toBe("create");

    const real = await env.cli(["run", "deploy", design]);
    expect(real.code, real.stdout + real.stderr).toBe(0);
    const after = await world();
    // The planned records, to the byte, are what bind9 holds.
    expect(after.a).toEqual(data(find(entries, "dns:update_host", `${fqdn}. A`).after));
    expect((after.sshfp as string[]).map(bare).sort()).toEqual(
      data(find(entries, "dns:update_host", `${fqdn}. SSHFP`).after),
    );
    expect(after.ldap).toEqual(before.ldap);
    expect(after.silences).toHaveLength((before.silences as string[]).length + 1);
  });

  it("plans a redeploy and a destroy of the host without touching it", async () => {
    const before = await world();
    const redeploy = await env.cli([
      "run",
      "redeploy",
      join(repoRoot, "examples/loki.yml"),
      "--plan",
      "--json",
    ]);
    expect(redeploy.code, redeploy.stdout + redeploy.stderr).toBe(0);
    const r = JSON.parse(redeploy.stdout) as PlanResult;
    expect(find(r.plan, "local:poweroff").action).toBe("update");
    expect(find(r.plan, "local:delete").action).toBe("delete");
    // The node the plan deleted is created again, so what depends on it is a placeholder.
    expect(find(r.plan, "local:deploy").action).toBe("create");
    expect(find(r.plan, "dns:update_host", `${fqdn}. A`)).toMatchObject({
      action: "update",
      before: [`${fqdn}. 300 IN A 127.0.0.1`],
      after: [`${fqdn}. 300 IN A <ipv4 of loki after local:deploy>`],
    });
    const destroy = await plan(["destroy", join(repoRoot, "examples/loki.yml")]);
    expect(find(destroy.plan, "dns:delete_host", `${fqdn}. A`)).toMatchObject({
      action: "delete",
      after: [],
    });
    expect(find(destroy.plan, "ldap:delete_host").action).toBe("delete");
    expect(await world()).toEqual(before);
  });

  it("does not start an external step in a plan run: it is unknown, and what follows says so", async () => {
    const result = await plan(["with-external", join(repoRoot, "examples/loki.yml")]);
    expect(find(result.plan, "ok:a")).toMatchObject({ action: "unknown" });
    expect(find(result.plan, "dns:update_host", `${fqdn}. A`).after_unknown).toEqual(["ok:a"]);
    expect(result.plan_unknown).toEqual(["ok:a"]);
    const clip = JSON.parse((await env.cli(["clipboard", "loki", "--json"])).stdout) as Record<
      string,
      unknown
    >;
    expect(JSON.stringify(clip)).not.toContain("fixture_ok");
  });
});
