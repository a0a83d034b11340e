// Plan exactness on VMware's own vCenter simulator (vcsim), with the real named, slapd and
// Alertmanager (vmware-env.ts): the plan of a deploy changes nothing, and the real run that
// follows makes exactly the changes it listed (one VM cloned from the planned template with the
// planned memory, the planned DNS records, the LDAP entry, one silence) and nothing else; a plan
// of the deployed host finds its VM, and the deploy after it changes nothing it said it would
// not. Needs `npx tsc -p .` first.
import { afterAll, beforeAll, expect, it } from "vitest";
import { vcsimAvailable } from "../servers/vcsim.js";
import { startVmwareEnv } from "./vmware-env.js";
import type { VmwareEnv } from "./vmware-env.js";
import type { PlanEntry } from "../../../src/step-sdk/plan.js";

const HOST = "ingrid";
const FQDN = `${HOST}.example.test`;
let vm: VmwareEnv;
beforeAll(async () => {
  if (vcsimAvailable()) vm = await startVmwareEnv();
}, 900_000);
afterAll(async () => {
  await vm?.stop();
});

async function plan(design: string): Promise<PlanEntry[]> {
  const r = await vm.env.cli(["run", "deploy", design, "--plan", "--json"]);
  expect(r.code, vm.explain(r)).toBe(0);
  const result = JSON.parse(r.stdout) as { state: string; plan: PlanEntry[]; plan_unknown: string[] };
  expect(result.state).toBe("succeeded");
  expect(result.plan_unknown).toEqual([]);
  return result.plan;
}

/** Everything outside jarvis a deploy of the host touches, as it stands now. */
async function world(): Promise<Record<string, unknown>> {
  const { named, slapd, am } = vm.s;
  return {
    vms: await vm.vms(),
    a: await named.dig(FQDN, "A"),
    aaaa: await named.dig(FQDN, "AAAA"),
    sshfp: (await named.dig(FQDN, "SSHFP")).sort(),
    ldap: (await slapd.search(`ou=Hosts,${slapd.baseDn}`, `(cn=${HOST})`))
      .split("\n")
      .filter((l) => /^(dn|ipHostNumber|info|description):/.test(l))
      .sort(),
    silences: (await am.silences()).map((s) => `${s.id} ${s.status.state}`).sort(),
  };
}

const changes = (entries: PlanEntry[]): string[] =>
  entries
    .filter((e) => e.action !== "none")
    .map((e) => `${e.step} ${e.action} ${e.target}`)
    .sort();

const find = (entries: PlanEntry[], step: string, target?: string): PlanEntry => {
  const found = entries.find((e) => e.step === step && (target === undefined || e.target === target));
  if (!found) throw new Error(`no plan entry of ${step} ${target ?? ""} in ${JSON.stringify(entries)}`);
  return found;
};

/** Record data from `name. ttl IN TYPE data` lines or dig's answers, without case or spaces. */
const data = (lines: unknown, fromPlan: boolean): string[] =>
  (lines as string[])
    .map((l) => (fromPlan ? l.split(" ").slice(4).join(" ") : l).replace(/\s+/g, "").toUpperCase())
    .sort();

it.runIf(vcsimAvailable())(
  "a VMware deploy's plan changes nothing and lists exactly what the deploy then changes",
  { timeout: 300_000 },
  async () => {
    const design = vm.design(HOST);
    const before = await world();
    const entries = await plan(design);
    expect(await world()).toEqual(before);

    // What the plan says the deploy changes: one VM, A and SSHFP records, root's keypair, the
    // LDAP entry, a silence set and lifted; no AAAA (a VMware guest reports one address).
    const am = vm.s.am.url;
    expect(changes(entries)).toEqual(
      [
        `vmware:deploy create vmware node ${HOST}`,
        `dns:update_host create ${FQDN}. A`,
        `dns:update_host create ${FQDN}. SSHFP`,
        `ssh:keypair create root's ssh keypair on ${HOST}`,
        `ldap:update_host_ou create cn=${HOST},ou=Hosts,${vm.s.slapd.baseDn}`,
        `monitoring:suppress create alertmanager silence for ${HOST} at ${am}`,
        `monitoring:enable delete alertmanager silence <silence id of ${HOST} after monitoring:suppress> at ${am}`,
      ].sort(),
    );
    const created = find(entries, "vmware:deploy").after as Record<string, unknown>;
    expect(created).toMatchObject({ label: HOST, template: "debian-12", datacenter: "DC0", memory_mb: 1024 });
    expect(find(entries, "dns:update_host", `${FQDN}. AAAA`)).toMatchObject({ action: "none" });

    const real = await vm.env.cli(["run", "deploy", design]);
    expect(real.code, vm.explain(real)).toBe(0);
    const after = await world();
    // The VMs: exactly one more, the planned one; every other VM as it was.
    const made = (after.vms as { name: string }[]).filter((v) => v.name === HOST);
    expect(made).toEqual([
      expect.objectContaining({ template: false, powerState: "poweredOn", memoryMB: created.memory_mb }),
    ]);
    expect((after.vms as { name: string }[]).filter((v) => v.name !== HOST)).toEqual(before.vms);
    // The planned records, with the placeholders filled in: one A at the VM's address, SSHFP for
    // its host keys, no AAAA.
    expect(after.a).toEqual(["127.0.0.1"]);
    expect(after.aaaa).toEqual([]);
    expect((after.sshfp as string[]).length).toBeGreaterThan(0);
    expect(after.ldap).toContain(`dn: cn=${HOST},ou=Hosts,${vm.s.slapd.baseDn}`);
    expect(after.silences).toHaveLength((before.silences as string[]).length + 1);
    expect((after.silences as string[]).every((s) => s.endsWith("expired"))).toBe(true);

    // Deployed: the plan finds the VM, and its records are what the servers hold, to the byte.
    const again = await plan(design);
    const settled = await world();
    expect(find(again, "vmware:deploy")).toMatchObject({ action: "none", target: `vmware node ${HOST}` });
    expect(changes(again).filter((c) => !c.startsWith("monitoring:"))).toEqual([]);
    for (const type of ["A", "AAAA", "SSHFP"]) {
      const e = find(again, "dns:update_host", `${FQDN}. ${type}`);
      expect(data(e.after, true), type).toEqual(data(settled[type.toLowerCase()], false));
    }
    const redeployed = await vm.env.cli(["run", "deploy", design]);
    expect(redeployed.code, vm.explain(redeployed)).toBe(0);
    const last = await world();
    expect(last.vms).toEqual(settled.vms);
    for (const key of ["a", "aaaa", "sshfp", "ldap"]) expect(last[key], key).toEqual(settled[key]);
  },
);
