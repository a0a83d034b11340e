// dns:delete_host against a real named and ldap:delete_host against a real slapd, spawned as the
// engine spawns them. Needs `npx tsc -p .` first (npm test builds).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startBind9 } from "../servers/bind9.js";
import type { Bind9Server } from "../servers/bind9.js";
import { startSlapd } from "../servers/slapd.js";
import type { SlapdServer } from "../servers/slapd.js";
import { freePort } from "../../helpers/net.js";
import { runStep } from "../workers/run-step.js";

const dir = mkdtempSync(join(tmpdir(), "jarvis-delete-steps-"));
// A real ed25519 public key, so update_host writes SSHFP records for delete_host to remove.
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAswVXqfxOkOM1h9osfsETZbgKXK7xQ5XoOozfIXPGGG";
const clipboard = {
  instance: { hostname: "loki", fqdn: "loki.example.test", provider: "local" },
  local: { id: "local-loki", label: "loki", state: "running", ipv4: "127.0.0.7", ssh_port: 2222 },
  ssh: { host_keys: [HOST_KEY], fingerprints: ["SHA256:abc"] },
};
// What a destroy run has on its clipboard once the node is gone: the design, no provider section.
const destroyed = { instance: clipboard.instance };

describe("dns:delete_host against a real named", () => {
  let named: Bind9Server;
  const params = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    server: "127.0.0.1",
    port: named.port,
    zone: named.zone,
    key_name: named.keyName,
    ...extra,
  });
  beforeAll(async () => {
    named = await startBind9();
  });
  afterAll(async () => {
    await named?.stop();
  });

  it("removes the A and SSHFP records, leaves the neighbours, and converges when they are gone", async () => {
    const env = { DNS_TSIG_SECRET: named.secret };
    for (const host of ["loki", "thor"]) {
      const c = {
        ...clipboard,
        instance: { hostname: host, fqdn: `${host}.example.test`, provider: "local" },
      };
      const made = await runStep("workers/dns", "update_host", c, { cwd: dir, params: params(), env });
      expect(made.code, made.stderr).toBe(0);
    }
    expect(await named.dig("loki.example.test", "A")).toEqual(["127.0.0.7"]);
    expect(await named.dig("loki.example.test", "SSHFP")).toHaveLength(2);

    const r = await runStep("workers/dns", "delete_host", destroyed, { cwd: dir, params: params(), env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.clipboard!.dns).toMatchObject({ name: "loki.example.test", zone: "example.test", records: [] });
    expect(await named.dig("loki.example.test", "A")).toEqual([]);
    expect(await named.dig("loki.example.test", "SSHFP")).toEqual([]);
    expect(await named.dig("thor.example.test", "A")).toEqual(["127.0.0.7"]);
    expect(await named.dig("thor.example.test", "SSHFP")).toHaveLength(2);

    const again = await runStep("workers/dns", "delete_host", destroyed, {
      cwd: dir,
      params: params({ transport: "tcp" }),
      env,
    });
    expect(again.code, again.stderr).toBe(0);
    expect(await named.dig("loki.example.test", "A")).toEqual([]);
    expect(r.stderr + again.stderr).not.toContain(named.secret);
  });

  it("names a wrong secret (BADSIG) and an unknown key (BADKEY), not retryable, and leaves the records", async () => {
    const c = { ...clipboard, instance: { hostname: "odin", fqdn: "odin.example.test", provider: "local" } };
    const made = await runStep("workers/dns", "update_host", c, {
      cwd: dir,
      params: params(),
      env: { DNS_TSIG_SECRET: named.secret },
    });
    expect(made.code, made.stderr).toBe(0);
    const wrong = await runStep("workers/dns", "delete_host", c, {
      cwd: dir,
      params: params(),
      env: { DNS_TSIG_SECRET: Buffer.alloc(32, 7).toString("base64") },
    });
    expect(wrong.code).toBe(1);
    expect(wrong.lastLine).toMatch(/refused: BADSIG: the TSIG secret for key jarvis-key is wrong/);
    const unknown = await runStep("workers/dns", "delete_host", c, {
      cwd: dir,
      params: params({ key_name: "nobody" }),
      env: { DNS_TSIG_SECRET: named.secret },
    });
    expect(unknown.code).toBe(1);
    expect(unknown.lastLine).toMatch(/BADKEY/);
    expect(await named.dig("odin.example.test", "A")).toEqual(["127.0.0.7"]);
  });

  it("is retryable when the server is down; skips when unconfigured; refuses bad settings and names missing fields", async () => {
    const port = await freePort();
    const down = await runStep("workers/dns", "delete_host", destroyed, {
      cwd: dir,
      params: params({ port, timeout: 2 }),
      env: { DNS_TSIG_SECRET: named.secret },
    });
    expect(down.code).toBe(75);
    expect(down.lastLine).toMatch(new RegExp(`127\\.0\\.0\\.1:${port} \\(udp\\) did not answer`));
    const skip = await runStep("workers/dns", "delete_host", destroyed, { cwd: dir });
    expect(skip.code).toBe(0);
    expect(skip.clipboard).toBeUndefined();
    expect(skip.lastLine).toMatch(/dns: not configured .*skipping delete_host/);
    const half = await runStep("workers/dns", "delete_host", destroyed, {
      cwd: dir,
      params: { zone: "example.test" },
    });
    expect(half.code).toBe(1);
    expect(half.lastLine).toMatch(/modules\.dns\.with\.server must be set/);
    const leaky = await runStep("workers/dns", "delete_host", destroyed, {
      cwd: dir,
      params: params({ secret: "x" }),
    });
    expect(leaky.lastLine).toMatch(/must not be a parameter/);
    const noSecret = await runStep("workers/dns", "delete_host", destroyed, { cwd: dir, params: params() });
    expect(noSecret.lastLine).toMatch(/DNS_TSIG_SECRET is not set/);
    const noHost = await runStep(
      "workers/dns",
      "delete_host",
      {},
      { cwd: dir, params: params(), env: { DNS_TSIG_SECRET: named.secret } },
    );
    expect(noHost.code).toBe(1);
    expect(noHost.lastLine).toMatch(/clipboard field instance\.hostname is missing/);
    const outside = await runStep(
      "workers/dns",
      "delete_host",
      { instance: { hostname: "loki", fqdn: "loki.other.test" } },
      { cwd: dir, params: params(), env: { DNS_TSIG_SECRET: named.secret } },
    );
    expect(outside.code).toBe(1);
    expect(outside.lastLine).toMatch(/not inside zone example\.test/);
  });
});

describe("ldap:delete_host against a real slapd", () => {
  let slapd: SlapdServer;
  const params = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    url: slapd.url,
    base_dn: slapd.baseDn,
    bind_dn: slapd.bindDn,
    ...extra,
  });
  beforeAll(async () => {
    slapd = await startSlapd();
  });
  afterAll(async () => {
    await slapd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("deletes the host's entry, leaves the others, and converges when it is gone", async () => {
    const env = { LDAP_BIND_PASSWORD: slapd.password };
    for (const host of ["loki", "thor"]) {
      const made = await runStep(
        "workers/ldap",
        "update_host_ou",
        { ...clipboard, instance: { hostname: host } },
        { cwd: dir, params: params(), env },
      );
      expect(made.code, made.stderr).toBe(0);
    }
    expect(await slapd.search(`ou=Hosts,${slapd.baseDn}`, "(cn=loki)")).toMatch(/^dn: cn=loki,/m);

    const r = await runStep("workers/ldap", "delete_host", destroyed, { cwd: dir, params: params(), env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.clipboard!.ldap).toEqual({ dn: "cn=loki,ou=Hosts,dc=example,dc=test", deleted: true });
    expect(r.lastLine).toMatch(/ldap: deleted cn=loki,ou=Hosts/);
    expect(await slapd.search(`ou=Hosts,${slapd.baseDn}`, "(cn=loki)")).toBe("");
    expect(await slapd.search(`ou=Hosts,${slapd.baseDn}`, "(cn=thor)")).toMatch(/^dn: cn=thor,/m);

    const again = await runStep("workers/ldap", "delete_host", destroyed, {
      cwd: dir,
      params: params(),
      env,
    });
    expect(again.code, again.stderr).toBe(0);
    expect(again.lastLine).toMatch(/does not exist \(already deleted\)/);
  });

  it("escapes the host name in the DN it deletes", async () => {
    const env = { LDAP_BIND_PASSWORD: slapd.password };
    const odd = { ...clipboard, instance: { hostname: "a,b=c+d" } };
    const made = await runStep("workers/ldap", "update_host_ou", odd, { cwd: dir, params: params(), env });
    expect(made.code, made.stderr).toBe(0);
    const r = await runStep(
      "workers/ldap",
      "delete_host",
      { instance: odd.instance },
      { cwd: dir, params: params(), env },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(await slapd.search(`ou=Hosts,${slapd.baseDn}`, "(cn=a,b=c+d)")).toBe("");
  });

  it("names a refused bind (not retryable) and an unreachable server (retryable); skips when unconfigured", async () => {
    const env = { LDAP_BIND_PASSWORD: slapd.password };
    const made = await runStep("workers/ldap", "update_host_ou", clipboard, {
      cwd: dir,
      params: params(),
      env,
    });
    expect(made.code, made.stderr).toBe(0);
    const refused = await runStep("workers/ldap", "delete_host", destroyed, {
      cwd: dir,
      params: params(),
      env: { LDAP_BIND_PASSWORD: "wrong" },
    });
    expect(refused.code).toBe(1);
    expect(refused.lastLine).toMatch(/LDAP bind refused for cn=admin,dc=example,dc=test/);
    expect(refused.stderr).not.toContain(slapd.password);
    expect(await slapd.search(`ou=Hosts,${slapd.baseDn}`, "(cn=loki)")).toMatch(/^dn: cn=loki,/m);
    const port = await freePort();
    const down = await runStep("workers/ldap", "delete_host", destroyed, {
      cwd: dir,
      params: params({ url: `ldap://127.0.0.1:${port}`, timeout: 3 }),
      env,
    });
    expect(down.code).toBe(75);
    expect(down.lastLine).toMatch(/unreachable/);
    const skip = await runStep("workers/ldap", "delete_host", destroyed, { cwd: dir });
    expect(skip.code).toBe(0);
    expect(skip.lastLine).toMatch(/ldap: not configured .*skipping delete_host/);
    const noPw = await runStep("workers/ldap", "delete_host", destroyed, { cwd: dir, params: params() });
    expect(noPw.lastLine).toMatch(/LDAP_BIND_PASSWORD is not set/);
    const noHost = await runStep("workers/ldap", "delete_host", {}, { cwd: dir, params: params(), env });
    expect(noHost.lastLine).toMatch(/clipboard field instance\.hostname is missing/);
  });
});
