import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { buildConfig } from "../../../src/config.js";
import { parseYamlMapping } from "../../../src/clipboard/yaml.js";
import { createLdapSource } from "../../../src/clipboard/sources/ldap-source.js";
import { startSlapd } from "../servers/slapd.js";
import type { SlapdServer } from "../servers/slapd.js";
import { freePort } from "../../helpers/net.js";

let slapd: SlapdServer;

function source(yaml: string, env: NodeJS.ProcessEnv) {
  const config = buildConfig(parseYamlMapping(yaml, "jarvis.yml"), "/tmp/jarvis.yml", env);
  return createLdapSource(config, env);
}

function sourcesYaml(url: string, extra = ""): string {
  return `sources:\n  ldap:\n    url: ${url}\n    base_dn: ${slapd.baseDn}\n    bind_dn: ${slapd.bindDn}\n${extra}`;
}

const signal = new AbortController().signal;

describe("the cn=<host> design source against a real slapd", () => {
  beforeAll(async () => {
    slapd = await startSlapd(`dn: cn=loki,ou=Hosts,dc=example,dc=test
objectClass: device
objectClass: ipHost
objectClass: domainRelatedObject
cn: loki
ipHostNumber: 127.0.0.7
associatedDomain: loki.example.test
l: production
serialNumber: 2048
`);
  });
  afterAll(async () => {
    await slapd?.stop();
  });

  it("maps the entry's attributes onto the design, over the configured defaults", async () => {
    const src = source(
      sourcesYaml(
        slapd.url,
        "    attributes:\n      l: { path: instance.production, type: boolean }\n      serialNumber: { path: instance.size, type: number }\n    defaults:\n      instance: { provider: local }\n",
      ),
      { LDAP_BIND_PASSWORD: slapd.password },
    );
    expect(src.accepts("cn=loki")).toBe(true);
    expect(src.accepts("examples/loki.yml")).toBe(false);
    const fetched = await src.fetch("cn=loki", signal);
    expect(fetched.origin).toBe(`${slapd.url}/cn=loki,ou=Hosts,dc=example,dc=test`);
    expect(parse(String(fetched.text))).toEqual({
      instance: {
        provider: "local",
        hostname: "loki",
        fqdn: "loki.example.test",
        production: true,
        size: 2048,
      },
      ldap: { ip_addresses: ["127.0.0.7"] },
    });
  });

  it("says clearly: missing entry, refused bind, unreachable server, unconfigured, bad ref", async () => {
    const ok = source(sourcesYaml(slapd.url), { LDAP_BIND_PASSWORD: slapd.password });
    await expect(ok.fetch("cn=thor", signal)).rejects.toMatchObject({
      code: "E_SOURCE_NOT_FOUND",
      message: expect.stringMatching(/no entry cn=thor,ou=Hosts/),
    });
    await expect(ok.fetch("cn=a,dc=x", signal)).rejects.toMatchObject({ code: "E_SOURCE_REF" });
    const refused = source(sourcesYaml(slapd.url), { LDAP_BIND_PASSWORD: "wrong" });
    await expect(refused.fetch("cn=loki", signal)).rejects.toMatchObject({
      code: "E_SOURCE_LDAP_BIND",
      retryable: false,
    });
    const port = await freePort();
    const down = source(sourcesYaml(`ldap://127.0.0.1:${port}`, "    timeout_seconds: 3\n"), {
      LDAP_BIND_PASSWORD: "x",
    });
    await expect(down.fetch("cn=loki", signal)).rejects.toMatchObject({
      code: "E_SOURCE_UNREACHABLE",
      retryable: true,
    });
    const none = source("store:\n  path: x.sqlite\n", {});
    await expect(none.fetch("cn=loki", signal)).rejects.toMatchObject({ code: "E_SOURCE_UNCONFIGURED" });
    const noPw = source(sourcesYaml(slapd.url), {});
    await expect(noPw.fetch("cn=loki", signal)).rejects.toThrow(/LDAP_BIND_PASSWORD is not set/);
    expect(() => source(sourcesYaml("http://x"), {})).toThrow(
      /jarvis.yml:3: sources.ldap.url must start with ldap/,
    );
  });
});
