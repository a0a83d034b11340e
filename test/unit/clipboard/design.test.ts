import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { validateDesign, withDesignDefaults } from "../../../src/clipboard/design.js";
import { parseYamlMapping } from "../../../src/clipboard/yaml.js";
import { DesignError } from "../../../src/errors.js";

const fixture = (name: string): string => `test/fixtures/designs/${name}`;

function validate(file: string): ReturnType<typeof validateDesign> {
  return validateDesign(parseYamlMapping(readFileSync(file), file));
}

function validateText(text: string): ReturnType<typeof validateDesign> {
  return validateDesign(parseYamlMapping(text, "d.yml"));
}

function refusal(run: () => unknown): DesignError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(DesignError);
    expect((err as DesignError).code).toBe("E_DESIGN_FIELD");
    return err as DesignError;
  }
  throw new Error("expected the design to be refused");
}

const KEY =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAswVXqfxOkOM1h9osfsETZbgKXK7xQ5XoOozfIXPGGG ops@example.test";

describe("validateDesign", () => {
  it("accepts examples/loki.yml and names its host", () => {
    expect(validate("examples/loki.yml")).toEqual({ host: "loki" });
  });

  it("accepts a minimal design and leaves unknown keys alone", () => {
    expect(validateText("instance:\n  hostname: thor\n  color: blue\nlinode:\n  id: 7\n")).toEqual({
      host: "thor",
    });
  });

  it("names file, line and field for a size that is not a number", () => {
    expect(refusal(() => validate(fixture("bad-size.yml"))).message).toBe(
      "test/fixtures/designs/bad-size.yml:4: instance.size must be a number above 0, got 'big'",
    );
  });

  it("requires instance.hostname, pointing at the instance mapping", () => {
    expect(refusal(() => validate(fixture("missing-hostname.yml"))).message).toMatch(
      /^test\/fixtures\/designs\/missing-hostname\.yml:1: instance\.hostname is missing; it is required \(a DNS label/,
    );
  });

  it("refuses a hostname that is not a DNS label", () => {
    expect(refusal(() => validate(fixture("bad-hostname.yml"))).message).toMatch(
      /^test\/fixtures\/designs\/bad-hostname\.yml:3: instance\.hostname must be a DNS label .*, got 'Loki_01'$/,
    );
    for (const bad of ["-loki", "loki-", "a".repeat(64), "lo.ki", ""]) {
      expect(refusal(() => validateText(`instance:\n  hostname: "${bad}"\n`)).message).toMatch(
        /^d\.yml:2: instance\.hostname must be a DNS label/,
      );
    }
    expect(refusal(() => validateText("instance:\n  hostname: 42\n")).message).toMatch(/got 42$/);
  });

  it("points at the bad item of a key list and says what is wrong with it", () => {
    expect(refusal(() => validate(fixture("bad-sshkey.yml"))).message).toBe(
      "test/fixtures/designs/bad-sshkey.yml:5: instance.sshpubkey[1] must be an SSH public key line ('ssh-ed25519 AAAA... comment'): the key data does not hold a ssh-ed25519 key",
    );
    expect(
      refusal(() => validateText("instance:\n  hostname: loki\n  sshpubkey: ssh-foo AAAA\n")).message,
    ).toBe(
      "d.yml:3: instance.sshpubkey must be an SSH public key line ('ssh-ed25519 AAAA... comment'): unknown key type 'ssh-foo'",
    );
    expect(
      refusal(() => validateText("instance:\n  hostname: loki\n  sshpubkey: ssh-ed25519\n")).message,
    ).toMatch(/^d\.yml:3: .*the base64 key data is missing or malformed$/);
    expect(refusal(() => validateText("instance:\n  hostname: loki\n  sshpubkey: {a: 1}\n")).message).toMatch(
      /^d\.yml:3: instance\.sshpubkey must be an SSH public key line or a list of them, got a mapping$/,
    );
  });

  it("accepts a key as one line or a list", () => {
    expect(validateText(`instance:\n  hostname: loki\n  sshpubkey: ${KEY}\n`).host).toBe("loki");
    expect(validateText(`instance:\n  hostname: loki\n  sshpubkey:\n    - ${KEY}\n    - ${KEY}\n`).host).toBe(
      "loki",
    );
  });

  it("type-checks tags item by item", () => {
    expect(refusal(() => validate(fixture("bad-tag.yml"))).message).toBe(
      "test/fixtures/designs/bad-tag.yml:5: instance.tags[1] must be a non-empty string, got 42",
    );
    expect(refusal(() => validateText("instance:\n  hostname: loki\n  tags: web\n")).message).toBe(
      "d.yml:3: instance.tags must be a list of strings, got 'web'",
    );
  });

  it("checks fqdn, provider and production", () => {
    expect(
      refusal(() => validateText("instance:\n  hostname: loki\n  fqdn: loki..example\n")).message,
    ).toMatch(/^d\.yml:3: instance\.fqdn must be a DNS name/);
    expect(validateText("instance:\n  hostname: loki\n  fqdn: loki.example.test.\n").host).toBe("loki");
    expect(refusal(() => validateText("instance:\n  hostname: loki\n  provider: [linode]\n")).message).toBe(
      "d.yml:3: instance.provider must be a lowercase name such as 'local' or 'linode', got a list",
    );
    expect(refusal(() => validateText("instance:\n  hostname: loki\n  production: 'yes'\n")).message).toBe(
      "d.yml:3: instance.production must be true or false, got 'yes'",
    );
  });

  it("never echoes a root password in its error", () => {
    const err = refusal(() => validate(fixture("secret-password.yml")));
    expect(err.message).toBe(
      "test/fixtures/designs/secret-password.yml:3: instance.root_password must be a non-empty string, got a number",
    );
    expect(err.message).not.toContain("123456789");
  });

  it("requires instance to be a mapping, and to be there", () => {
    expect(refusal(() => validate(fixture("instance-list.yml"))).message).toMatch(
      /^test\/fixtures\/designs\/instance-list\.yml:2: instance must be a mapping of host fields .*, got a list$/,
    );
    expect(refusal(() => validate(fixture("no-instance.yml"))).message).toBe(
      "test/fixtures/designs/no-instance.yml:1: instance is missing; a design needs an 'instance:' mapping with at least hostname",
    );
  });

  it("fills in the default provider without touching the input", () => {
    const clipboard = { instance: { hostname: "loki" }, extra: 1 };
    expect(withDesignDefaults(clipboard)).toEqual({
      instance: { hostname: "loki", provider: "local" },
      extra: 1,
    });
    expect(clipboard.instance).toEqual({ hostname: "loki" });
    expect(withDesignDefaults({ instance: { hostname: "x", provider: "linode" } })).toEqual({
      instance: { hostname: "x", provider: "linode" },
    });
  });
});

describe("design limits and bidi controls", () => {
  it("refuses a 100,000-item list field with E_DESIGN_LIMIT", () => {
    const tags = Array.from({ length: 100_000 }, (_, i) => `t${i}`).join(", ");
    let caught: unknown;
    try {
      validateText(`instance:\n  hostname: loki\n  tags: [${tags}]\n`);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(DesignError);
    expect((caught as DesignError).code).toBe("E_DESIGN_LIMIT");
    expect((caught as DesignError).message).toBe(
      "d.yml:3: instance.tags has 100000 items, over the limit of 1000; is this the right list?",
    );
  });

  it("refuses bidi controls in keys anywhere in the design and in instance fields", () => {
    const cases: [string, RegExp][] = [
      [
        'instance:\n  hostname: loki\n"own\u202eer": x\n',
        /^d\.yml:3: the key 'own\u202eer' holds a bidirectional/,
      ],
      ['instance:\n  hostname: loki\nmeta:\n  - {"a\u200eb": 1}\n', /^d\.yml:4: the key 'a\u200eb' holds/],
      ['instance:\n  hostname: loki\n  "hostname\u200f": x\n', /^d\.yml:3: the key/],
      [
        'instance:\n  hostname: loki\n  guestid: "debian\u2066-12"\n',
        /^d\.yml:3: instance\.guestid holds a bidirectional/,
      ],
      [
        'instance:\n  hostname: loki\n  tags: ["w\u061ceb"]\n',
        /^d\.yml:3: instance\.tags\[0\] holds a bidirectional/,
      ],
      ['instance:\n  hostname: "lo\u200eki"\n', /^d\.yml:2: instance\.hostname/],
    ];
    for (const [text, message] of cases) expect(refusal(() => validateText(text)).message).toMatch(message);
  });
});

describe("validateDesign services", () => {
  const withServices = (services: string): string => `instance:\n  hostname: loki\nservices:\n${services}`;

  it("accepts services with a TCP or an HTTP check", () => {
    expect(
      validateText(
        withServices(
          "  - {name: www, dns: www.example.test, standby: thor, check: {http: 'http://www.example.test/health'}}\n" +
            "  - {name: smtp, dns: mail.example.test, standby: thor.example.test, check: {tcp: 25}}\n",
        ),
      ),
    ).toEqual({ host: "loki" });
  });

  it.each([
    ["services: www\n", /^d\.yml:3: services must be a list/],
    ["  - www\n", /^d\.yml:4: services\[0\] must be a mapping/],
    ["  - {name: www, standby: thor, check: {tcp: 80}}\n", /^d\.yml:4: services\[0\]\.dns is missing/],
    ["  - {name: www, dns: www.example.test, check: {tcp: 80}}\n", /services\[0\]\.standby is missing/],
    ["  - {name: www, dns: www.example.test, standby: thor}\n", /services\[0\]\.check is missing/],
    [
      "  - {name: www, dns: 'WWW!', standby: thor, check: {tcp: 80}}\n",
      /services\[0\]\.dns must be a DNS name/,
    ],
    ["  - {name: www, dns: www.example.test, standby: thor, check: {tcp: 0}}\n", /tcp must be a port number/],
    [
      "  - {name: www, dns: www.example.test, standby: thor, check: {http: 'ftp://x/'}}\n",
      /http must be an http:\/\/ or https:\/\/ URL/,
    ],
    [
      "  - {name: www, dns: www.example.test, standby: thor, check: {tcp: 80, http: 'http://x/'}}\n",
      /check must be \{tcp: PORT\} or \{http: URL\}: got the keys tcp, http/,
    ],
    [
      "  - {name: www, dns: www.example.test, standy: thor, check: {tcp: 80}}\n",
      /services\[0\]\.standby is missing/,
    ],
    [
      "  - {name: www, dns: www.example.test, standby: thor, check: {tcp: 80}, ttl: 5}\n",
      /services\[0\]\.ttl is not a service field; use name, dns, standby, check/,
    ],
    [
      "  - {name: www, dns: www.example.test, standby: thor, check: {tcp: 80}}\n" +
        "  - {name: www, dns: www2.example.test, standby: thor, check: {tcp: 80}}\n",
      /^d\.yml:5: services\[1\]\.name 'www' is listed twice/,
    ],
  ])("refuses %j", (services, message) => {
    const text = services.startsWith("services:")
      ? `instance:\n  hostname: loki\n${services}`
      : withServices(services);
    expect(refusal(() => validateText(text)).message).toMatch(message);
  });
});
