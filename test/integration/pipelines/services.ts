/**
 * What the pipeline end-to-end tests share: the real named, slapd and Alertmanager they start,
 * the jarvis.yml `modules:` text that points jarvis at them, and the checks of what a host looks
 * like in DNS, LDAP and monitoring after a run.
 */
import { expect } from "vitest";
import { startAlertmanager } from "../servers/alertmanager.js";
import type { AlertmanagerServer } from "../servers/alertmanager.js";
import { startBind9 } from "../servers/bind9.js";
import type { Bind9Server } from "../servers/bind9.js";
import { startSlapd } from "../servers/slapd.js";
import type { SlapdServer } from "../servers/slapd.js";

/** The servers a deploy/redeploy/destroy run talks to. */
export interface Services {
  named: Bind9Server;
  slapd: SlapdServer;
  am: AlertmanagerServer;
  stop(): Promise<void>;
}

/** Start named, slapd and Alertmanager on free loopback ports. */
export async function startServices(): Promise<Services> {
  const [named, slapd, am] = await Promise.all([startBind9(), startSlapd(), startAlertmanager()]);
  return {
    named,
    slapd,
    am,
    stop: async () => void (await Promise.all([named.stop(), slapd.stop(), am.stop()])),
  };
}

/** jarvis.yml `modules:` entries for dns, ldap and monitoring, plus `extra` module lines. */
export function modulesConfig(s: Services, extra = ""): string {
  return `modules:
  dns:
    with: { server: 127.0.0.1, port: ${s.named.port}, zone: ${s.named.zone}, key_name: ${s.named.keyName} }
    env: { DNS_TSIG_SECRET: "${s.named.secret}" }
  ldap:
    with: { url: "${s.slapd.url}", base_dn: "${s.slapd.baseDn}", bind_dn: "${s.slapd.bindDn}" }
    env: { LDAP_BIND_PASSWORD: "${s.slapd.password}" }
  monitoring:
    with: { url: "${s.am.url}", lease: 30m }
${extra}`;
}

/** Assert DNS, LDAP and monitoring describe `host` at `address` with these host key fingerprints. */
export async function expectRegistered(
  s: Services,
  host: string,
  address: string,
  fingerprints: string[],
): Promise<void> {
  expect(fingerprints.length).toBeGreaterThan(0);
  expect(await s.named.dig(`${host}.example.test`, "A")).toEqual([address]);
  // SHA-1 and SHA-256 SSHFP records per host key; the SHA-256 ones carry the fingerprint's hash.
  const sshfp = await s.named.dig(`${host}.example.test`, "SSHFP");
  expect(sshfp).toHaveLength(2 * fingerprints.length);
  // dig prints "<algorithm> <hash type> <hex, in space-separated chunks>".
  const sha256 = sshfp
    .map((l) => l.split(" "))
    .filter((parts) => parts[1] === "2")
    .map((parts) => parts.slice(2).join("").toLowerCase());
  const expected = fingerprints.map((fp) =>
    Buffer.from(fp.replace(/^SHA256:/, ""), "base64").toString("hex"),
  );
  expect(sha256.sort()).toEqual(expected.sort());
  const ldif = await s.slapd.search(`ou=Hosts,${s.slapd.baseDn}`, `(cn=${host})`);
  expect(ldif).toContain(`ipHostNumber: ${address}`);
  for (const fp of fingerprints) expect(ldif).toContain(`info: ${fp}`);
  await expectNoActiveSilence(s);
}

/** Assert DNS has no A/AAAA/SSHFP for `host`, LDAP no entry, and no silence is active. */
export async function expectForgotten(s: Services, host: string): Promise<void> {
  for (const type of ["A", "AAAA", "SSHFP"])
    expect(await s.named.dig(`${host}.example.test`, type)).toEqual([]);
  expect(await s.slapd.search(`ou=Hosts,${s.slapd.baseDn}`, `(cn=${host})`)).toBe("");
  await expectNoActiveSilence(s);
}

/** Assert Alertmanager holds no active silence (monitoring is back on). */
export async function expectNoActiveSilence(s: Services): Promise<void> {
  expect((await s.am.silences()).filter((x) => x.status.state === "active")).toEqual([]);
}

/** The clipboard of a host's latest run, from `jarvis clipboard <host> --json` output. */
export function clipboardFrom(stdout: string): Record<string, Record<string, unknown>> {
  const parsed = JSON.parse(stdout) as Record<string, unknown>;
  return (parsed.clipboard ?? parsed) as Record<string, Record<string, unknown>>;
}
