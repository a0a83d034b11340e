// The vmware step module, compiled and spawned like the engine does, against VMware's own vCenter
// simulator (govmomi's vcsim) over TLS; a watcher stands in for the guests' cloud-init and VMware
// Tools (vcsim-guest.ts). Needs `npx tsc -p .` first (npm test builds) and Debian's golang-go and
// golang-github-vmware-govmomi-dev (scripts/test-services).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { VsphereClient } from "../../../src/providers/vsphere/client.js";
import { children, leaf, textOf } from "../../../src/providers/vsphere/xml.js";
import { startVcsim, vcsimAvailable } from "../servers/vcsim.js";
import type { Vcsim } from "../servers/vcsim.js";
import { watchGuests } from "../servers/vcsim-guest.js";
import type { VcsimGuests } from "../servers/vcsim-guest.js";
import { runStep } from "./spawn-step.js";

const USER = "jarvis-deployer";
const PASSWORD = "vs-Secret-9c1e";
const env = { VSPHERE_USER: USER, VSPHERE_PASSWORD: PASSWORD };
const KEY =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAswVXqfxOkOM1h9osfsETZbgKXK7xQ5XoOozfIXPGGG ops@example.test";
const DEPLOY_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJarvisDeployKeyJarvisDeployKeyJarvisDeploy jarvis";

let sim: Vcsim;
let guests: VcsimGuests;
beforeAll(async () => {
  sim = await startVcsim({ username: USER, password: PASSWORD, templates: ["debian-12-tmpl"] });
  guests = watchGuests({
    url: sim.url,
    caFile: sim.caFile,
    username: USER,
    password: PASSWORD,
    address: "192.0.2.10",
  });
}, 900_000);
afterAll(async () => {
  await guests?.stop();
  await sim?.stop();
});

const design = (hostname: string): Record<string, unknown> => ({
  instance: {
    hostname,
    provider: "vmware",
    size: 2048,
    cpus: 2,
    guestid: "debian-12",
    datacenter: "DC0",
    cluster: "DC0_C0",
    datastore: "LocalDS_0",
    sshpubkey: [KEY],
  },
  ssh: { deploy_key: DEPLOY_KEY },
});
const params = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  url: sim.url,
  ca_file: sim.caFile,
  templates: { "debian-12": "debian-12-tmpl" },
  poll_ms: 50,
  poll_max_ms: 500,
  wait_timeout_s: 120,
  retry_base_ms: 10,
  retry_max_ms: 100,
  api_attempts: 3,
  ...extra,
});
const section = (c: Record<string, unknown>): Record<string, unknown> => c.vmware as Record<string, unknown>;

async function inventory(): Promise<{ name: string; power: string; memory: string; cpus: string }[]> {
  const client = new VsphereClient({
    url: sim.url,
    username: USER,
    password: PASSWORD,
    ca: caPem(),
    log: () => undefined,
  });
  const signal = new AbortController().signal;
  const vms = await client.objectsOfType(
    "VirtualMachine",
    ["name", "runtime.powerState", "config.hardware.memoryMB", "config.hardware.numCPU"],
    signal,
  );
  await client.logout(signal);
  return vms.map((vm) => ({
    name: textOf(vm.props.get("name")) ?? "",
    power: textOf(vm.props.get("runtime.powerState")) ?? "",
    memory: textOf(vm.props.get("config.hardware.memoryMB")) ?? "",
    cpus: textOf(vm.props.get("config.hardware.numCPU")) ?? "",
  }));
}

function caPem(): string {
  return readFileSync(sim.caFile, "utf8");
}

describe.runIf(vcsimAvailable())("vmware step against vcsim", () => {
  it(
    "clones from the template, sizes, powers on, learns the IP, and converges on a second deploy",
    { timeout: 180_000 },
    async () => {
      const r = await runStep("vmware", "deploy", design("loki"), params(), env, 150_000);
      expect(r.code, `${r.stderr}\nguest: ${guests.errors.join("; ")}`).toBe(0);
      const s = section(r.clipboard);
      expect(s).toMatchObject({ label: "loki", state: "running", ipv4: "192.0.2.10" });
      expect(String(s.id)).toMatch(/^vm-/);
      const loki = (await inventory()).filter((vm) => vm.name === "loki");
      expect(loki).toEqual([{ name: "loki", power: "poweredOn", memory: "2048", cpus: "2" }]);
      // cloud-init's userdata carries the design's key and jarvis's deploy key.
      expect(guests.keys.get(String(s.id))?.sort()).toEqual([DEPLOY_KEY, KEY].sort());

      const again = await runStep("vmware", "deploy", r.clipboard, params(), env, 150_000);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stderr).toContain("exists already");
      expect(section(again.clipboard).id).toBe(s.id);
      expect((await inventory()).filter((vm) => vm.name === "loki")).toHaveLength(1);

      const ip = await runStep("vmware", "ip", again.clipboard, params(), env);
      expect(ip.code, ip.stderr).toBe(0);
      expect(section(ip.clipboard).ipv4).toBe("192.0.2.10");

      const off = await runStep("vmware", "poweroff", ip.clipboard, params(), env);
      expect(off.code, off.stderr).toBe(0);
      expect(section(off.clipboard).state).toBe("offline");
      expect((await inventory()).find((vm) => vm.name === "loki")?.power).toBe("poweredOff");

      const gone = await runStep("vmware", "delete", off.clipboard, params(), env);
      expect(gone.code, gone.stderr).toBe(0);
      expect(gone.clipboard.vmware).toBeUndefined();
      expect((await inventory()).map((vm) => vm.name)).not.toContain("loki");
      // The template is never touched by name.
      expect((await inventory()).map((vm) => vm.name)).toContain("debian-12-tmpl");
      const twice = await runStep("vmware", "delete", gone.clipboard, params(), env);
      expect(twice.code, twice.stderr).toBe(0);

      for (const out of [r, again, ip, off, gone, twice])
        expect(out.stdout + out.stderr).not.toContain(PASSWORD);
    },
  );

  it("a wrong password is a clear error that is not retried", async () => {
    const r = await runStep("vmware", "status", design("loki"), params(), {
      ...env,
      VSPHERE_PASSWORD: "wrong-password",
    });
    expect(r.code).toBe(1);
    expect(r.lastLine).toMatch(/login refused \(InvalidLogin.*check VSPHERE_USER and VSPHERE_PASSWORD/);
    expect(r.stderr).not.toContain("wrong-password");
  });

  it("TLS verification refuses the simulator's certificate unless its CA is given", async () => {
    const r = await runStep("vmware", "status", design("loki"), params({ ca_file: "" }), env);
    expect(r.code).toBe(1);
    expect(r.lastLine).toMatch(/certificate of 127\.0\.0\.1:\d+ is not trusted.*ca_file/);
  });

  it("a template that does not exist names the templates there are", async () => {
    const r = await runStep("vmware", "deploy", design("thor"), params({ templates: {} }), env);
    expect(r.code).toBe(1);
    expect(r.lastLine).toMatch(/no template named debian-12 .*templates: debian-12-tmpl/);
  });

  it("logs in again when the session is terminated and repeats the call", async () => {
    const signal = new AbortController().signal;
    const lines: string[] = [];
    const client = new VsphereClient({
      url: sim.url,
      username: USER,
      password: PASSWORD,
      ca: caPem(),
      log: (l) => lines.push(l),
    });
    expect((await client.objectsOfType("Datacenter", ["name"], signal)).length).toBe(1);
    // An administrator ends every other session of the account.
    const admin = new VsphereClient({
      url: sim.url,
      username: USER,
      password: PASSWORD,
      ca: caPem(),
      log: () => undefined,
    });
    const sm = (await admin.serviceContent(signal)).sessionManager;
    await admin.login(signal);
    const props = await admin.properties(sm, ["sessionList"], signal);
    const mine = textOf(
      (await admin.properties(sm, ["currentSession"], signal)).get("currentSession"),
      "key",
    );
    const others = children(props.get("sessionList"), "UserSession")
      .map((s) => textOf(s, "key"))
      .filter((k): k is string => !!k && k !== mine);
    expect(others.length).toBeGreaterThan(0);
    await admin.invoke(
      "TerminateSession",
      sm,
      others.map((k) => leaf("sessionId", k)),
      signal,
    );
    expect((await client.objectsOfType("Datacenter", ["name"], signal)).length).toBe(1);
    expect(lines).toContain("vmware: the session ended (NotAuthenticated); logging in again");
    await client.logout(signal);
    await admin.logout(signal);
  });
});

describe.runIf(vcsimAvailable())("vmware step against a bare ESX host (vcsim -esx)", () => {
  it(
    "clones, powers on and destroys without naming a datacenter or cluster",
    { timeout: 180_000 },
    async () => {
      const esx = await startVcsim({
        username: USER,
        password: PASSWORD,
        templates: ["debian-12"],
        esx: true,
      });
      const esxGuests = watchGuests({
        url: esx.url,
        caFile: esx.caFile,
        username: USER,
        password: PASSWORD,
        address: "192.0.2.20",
      });
      try {
        const only = {
          instance: {
            hostname: "mimir",
            provider: "vmware",
            size: 1024,
            guestid: "debian-12",
            sshpubkey: [KEY],
          },
        };
        const esxParams = { ...params(), url: esx.url, ca_file: esx.caFile, templates: {} };
        const r = await runStep("vmware", "deploy", only, esxParams, env, 150_000);
        expect(r.code, `${r.stderr}\nguest: ${esxGuests.errors.join("; ")}`).toBe(0);
        expect(section(r.clipboard)).toMatchObject({ label: "mimir", state: "running", ipv4: "192.0.2.20" });
        const gone = await runStep("vmware", "delete", r.clipboard, esxParams, env);
        expect(gone.code, gone.stderr).toBe(0);
        const status = await runStep("vmware", "status", gone.clipboard, esxParams, env);
        expect(status.stderr).toContain("mimir does not exist");
      } finally {
        await esxGuests.stop();
        await esx.stop();
      }
    },
  );
});
