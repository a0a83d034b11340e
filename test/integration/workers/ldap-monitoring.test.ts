import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSlapd } from "../servers/slapd.js";
import type { SlapdServer } from "../servers/slapd.js";
import { startAlertmanager } from "../servers/alertmanager.js";
import type { AlertmanagerServer } from "../servers/alertmanager.js";
import { freePort } from "../../helpers/net.js";
import { runStep } from "./run-step.js";

const dir = mkdtempSync(join(tmpdir(), "jarvis-ldap-am-"));
let slapd: SlapdServer;
let am: AlertmanagerServer;
const clipboard = {
  instance: { hostname: "loki", fqdn: "loki.example.test", provider: "local" },
  local: { id: "local-loki", label: "loki", state: "running", ipv4: "127.0.0.7", ssh_port: 2222 },
  ssh: { host_keys: ["ssh-ed25519 AAAA"], fingerprints: ["SHA256:abc", "SHA256:def"] },
};

describe("ldap:update_host_ou against a real slapd", () => {
  beforeAll(async () => {
    slapd = await startSlapd();
  });
  afterAll(async () => {
    await slapd?.stop();
  });
  const params = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    url: slapd.url,
    base_dn: slapd.baseDn,
    bind_dn: slapd.bindDn,
    ...extra,
  });

  it("creates the entry, then replaces its attributes on a re-run", async () => {
    const env = { LDAP_BIND_PASSWORD: slapd.password };
    const r = await runStep("workers/ldap", "update_host_ou", clipboard, { cwd: dir, params: params(), env });
    expect(r.code, r.stderr).toBe(0);
    expect((r.clipboard!.ldap as Record<string, unknown>).dn).toBe("cn=loki,ou=Hosts,dc=example,dc=test");
    let ldif = await slapd.search("ou=Hosts,dc=example,dc=test", "(cn=loki)");
    expect(ldif).toMatch(/ipHostNumber: 127\.0\.0\.7/);
    expect(ldif).toMatch(/info: SHA256:abc\ninfo: SHA256:def/);
    const moved = {
      ...clipboard,
      local: { ...clipboard.local, ipv4: "127.0.0.9" },
      ssh: { ...clipboard.ssh, fingerprints: ["SHA256:new"] },
    };
    const again = await runStep("workers/ldap", "update_host_ou", moved, {
      cwd: dir,
      params: params({ attributes: { state: "l" } }),
      env,
    });
    expect(again.code, again.stderr).toBe(0);
    ldif = await slapd.search("ou=Hosts,dc=example,dc=test", "(cn=loki)");
    expect(ldif).toMatch(/ipHostNumber: 127\.0\.0\.9/);
    expect(ldif).not.toMatch(/127\.0\.0\.7|SHA256:abc/);
    expect(ldif).toMatch(/l: deployed by jarvis/);
    expect(ldif.match(/^dn: /gm)).toHaveLength(1);
  });

  it("names a refused bind (not retryable), an unreachable server (retryable), a missing parent", async () => {
    const refused = await runStep("workers/ldap", "update_host_ou", clipboard, {
      cwd: dir,
      params: params(),
      env: { LDAP_BIND_PASSWORD: "wrong" },
    });
    expect(refused.code).toBe(1);
    expect(refused.lastLine).toMatch(/LDAP bind refused for cn=admin,dc=example,dc=test/);
    const port = await freePort();
    const down = await runStep("workers/ldap", "update_host_ou", clipboard, {
      cwd: dir,
      params: params({ url: `ldap://127.0.0.1:${port}`, timeout: 3 }),
      env: { LDAP_BIND_PASSWORD: "x" },
    });
    expect(down.code).toBe(75);
    expect(down.lastLine).toMatch(/unreachable/);
    const orphan = await runStep("workers/ldap", "update_host_ou", clipboard, {
      cwd: dir,
      params: params({ hosts_ou: "ou=Nowhere" }),
      env: { LDAP_BIND_PASSWORD: slapd.password },
    });
    expect(orphan.code).toBe(1);
    expect(orphan.lastLine).toMatch(/parent ou=Nowhere,dc=example,dc=test does not exist/);
  });

  it("escapes the host name in the DN, skips when unconfigured, names missing fields", async () => {
    const env = { LDAP_BIND_PASSWORD: slapd.password };
    const odd = { ...clipboard, instance: { hostname: "a,b=c+d" } };
    const r = await runStep("workers/ldap", "update_host_ou", odd, { cwd: dir, params: params(), env });
    expect(r.code, r.stderr).toBe(0);
    expect((r.clipboard!.ldap as Record<string, unknown>).dn).toBe(
      "cn=a\\,b\\=c\\+d,ou=Hosts,dc=example,dc=test",
    );
    expect(await slapd.search("ou=Hosts,dc=example,dc=test", "(cn=a,b=c+d)")).toMatch(/cn: a,b=c\+d/);
    const skip = await runStep("workers/ldap", "update_host_ou", clipboard, { cwd: dir });
    expect(skip.lastLine).toMatch(/ldap: not configured/);
    const { ssh: _ssh, ...noSsh } = clipboard;
    const missing = await runStep("workers/ldap", "update_host_ou", noSsh, {
      cwd: dir,
      params: params(),
      env,
    });
    expect(missing.code).toBe(1);
    expect(missing.lastLine).toMatch(/clipboard field ssh\.fingerprints is missing/);
    const noPw = await runStep("workers/ldap", "update_host_ou", clipboard, { cwd: dir, params: params() });
    expect(noPw.lastLine).toMatch(/LDAP_BIND_PASSWORD is not set/);
  });
});

describe("monitoring:suppress / enable against a real Alertmanager", () => {
  beforeAll(async () => {
    am = await startAlertmanager();
  });
  afterAll(async () => {
    await am?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("silences the host for a lease, renews instead of duplicating, and enable expires it", async () => {
    const s = await runStep("workers/monitoring", "suppress", clipboard, {
      cwd: dir,
      params: { url: am.url, lease: "30m" },
    });
    expect(s.code, s.stderr).toBe(0);
    const id = (s.clipboard!.monitoring as Record<string, string>).silence_id;
    let silences = await am.silences();
    const mine = silences.find((x) => x.id === id)!;
    expect(mine.status.state).toBe("active");
    expect(mine.matchers[0]).toMatchObject({ name: "instance", isRegex: true });
    const leaseMs = Date.parse(mine.endsAt) - Date.now();
    expect(leaseMs).toBeGreaterThan(20 * 60_000);
    expect(leaseMs).toBeLessThanOrEqual(30 * 60_000);
    // A re-run from the same input (as after a crash before the clipboard was saved) renews it.
    const again = await runStep("workers/monitoring", "suppress", clipboard, {
      cwd: dir,
      params: { url: am.url, lease: "30m" },
    });
    expect(again.code, again.stderr).toBe(0);
    silences = await am.silences();
    expect(silences.filter((x) => x.status.state === "active")).toHaveLength(1);
    const e = await runStep("workers/monitoring", "enable", again.clipboard!, {
      cwd: dir,
      params: { url: am.url },
    });
    expect(e.code, e.stderr).toBe(0);
    expect((await am.silences()).filter((x) => x.status.state === "active")).toHaveLength(0);
    const twice = await runStep("workers/monitoring", "enable", again.clipboard!, {
      cwd: dir,
      params: { url: am.url },
    });
    expect(twice.code).toBe(0);
    expect(twice.lastLine).toMatch(/already expired/);
  });

  it("is retryable when Alertmanager is down; skips when unconfigured; names bad input", async () => {
    const port = await freePort();
    const down = await runStep("workers/monitoring", "suppress", clipboard, {
      cwd: dir,
      params: { url: `http://127.0.0.1:${port}`, timeout: 3 },
    });
    expect(down.code).toBe(75);
    expect(down.lastLine).toMatch(/unreachable/);
    const skip = await runStep("workers/monitoring", "enable", clipboard, { cwd: dir });
    expect(skip.code).toBe(0);
    expect(skip.lastLine).toMatch(/not configured/);
    const nothing = await runStep("workers/monitoring", "enable", clipboard, {
      cwd: dir,
      params: { url: am.url },
    });
    expect(nothing.lastLine).toMatch(/no silence recorded/);
    const noHost = await runStep("workers/monitoring", "suppress", {}, { cwd: dir, params: { url: am.url } });
    expect(noHost.lastLine).toMatch(/clipboard field instance\.hostname is missing/);
    const badLease = await runStep("workers/monitoring", "suppress", clipboard, {
      cwd: dir,
      params: { url: am.url, lease: "forever" },
    });
    expect(badLease.code).toBe(1);
    expect(badLease.lastLine).toMatch(/lease/);
  });
});
