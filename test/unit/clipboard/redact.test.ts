import { describe, expect, it } from "vitest";
import { createRedactor } from "../../../src/clipboard/redact.js";
import { DEFAULT_REDACT_KEYS } from "../../../src/config.js";

const PEM = [
  "-----BEGIN OPENSSH PRIVATE KEY-----",
  "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
  "QyNTUxOQAAACBzZWNyZXRzZWNyZXRzZWNyZXRzZWNyZXRzZWNyZXQAAAA=",
  "-----END OPENSSH PRIVATE KEY-----",
].join("\n");

describe("createRedactor().value", () => {
  const redactor = createRedactor({ keys: [...DEFAULT_REDACT_KEYS, "tsig_secret"] });

  it("hides values under matching keys at any depth, in lists too, case-insensitively", () => {
    const clipboard = {
      instance: { hostname: "loki", root_password: "hunter22", sshpubkey: "ssh-ed25519 AAAA" },
      dns: {
        servers: [
          { name: "ns1", TSIG_Secret: "c2VjcmV0" },
          { name: "ns2", tsig_secret: { algo: "hmac", key: "x" } },
        ],
      },
      linode: { api_token: "tok-123456", id: 42 },
      ssh: { host_keys: ["ssh-ed25519 AAAA"] },
    };
    const out = redactor.value(clipboard);
    expect(out).toEqual({
      instance: { hostname: "loki", root_password: "***", sshpubkey: "ssh-ed25519 AAAA" },
      dns: {
        servers: [
          { name: "ns1", TSIG_Secret: "***" },
          { name: "ns2", tsig_secret: "***" },
        ],
      },
      linode: { api_token: "***", id: 42 },
      ssh: { host_keys: ["ssh-ed25519 AAAA"] },
    });
    // A deep copy: the store keeps the real values.
    expect(clipboard.instance.root_password).toBe("hunter22");
    expect(out.dns.servers).not.toBe(clipboard.dns.servers);
  });

  it("shows empty secrets as they are, so a missing one is visible", () => {
    expect(redactor.value({ password: null, token: "" })).toEqual({ password: null, token: "" });
  });

  it("hides private key blocks and known secrets inside string values under any key", () => {
    const withSecret = createRedactor({ keys: ["password"], secrets: ["s3cr3t-value"] });
    expect(withSecret.value({ notes: `key:\n${PEM}\n`, log: ["got s3cr3t-value back"] })).toEqual({
      notes: "key:\n***\n",
      log: ["got *** back"],
    });
  });

  it("keeps a __proto__ key as data and survives cycles", () => {
    const input = JSON.parse('{"__proto__": {"password": "p4ssw0rd"}}') as Record<string, unknown>;
    const out = redactor.value(input);
    expect(Object.hasOwn(out, "__proto__")).toBe(true);
    expect(JSON.stringify(out)).toBe('{"__proto__":{"password":"***"}}');
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(redactor.value(cyclic)).toEqual({ a: 1, self: "***" });
  });
});

describe("createRedactor().text", () => {
  const redactor = createRedactor({
    keys: DEFAULT_REDACT_KEYS,
    secrets: ["ghp_abcdef123456", "abc", "ghp_abcdef1234567890"],
  });

  it("replaces every known secret value of 4 characters or more, longest first", () => {
    expect(redactor.text("push with ghp_abcdef1234567890 then ghp_abcdef123456 (abc stays)")).toBe(
      "push with *** then *** (abc stays)",
    );
  });

  it("replaces PEM private key blocks, also cut ones and ones on one line", () => {
    expect(redactor.text(`before\n${PEM}\nafter`)).toBe("before\n***\nafter");
    expect(redactor.text(`stderr: ${PEM.replace(/\n/g, " ")} done`)).toBe("stderr: *** done");
    expect(redactor.text("-----BEGIN RSA PRIVATE KEY-----\nMIIEow")).toBe("***");
    // Public material is not a secret.
    expect(redactor.text("-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----")).toContain("MFkw");
  });

  it("replaces key: value and key=value pairs whose key matches", () => {
    expect(redactor.text("root_password: hunter22 host: loki")).toBe("root_password: *** host: loki");
    expect(redactor.text("curl -d api_key=abc123&user=bob")).toBe("curl -d api_key=***&user=bob");
    expect(redactor.text('{"db_password":"pa ss","id":1}')).toBe('{"db_password":"***","id":1}');
    expect(redactor.text("LINODE_TOKEN='x y z'")).toBe("LINODE_TOKEN='***'");
    expect(redactor.text("the password is wrong")).toBe("the password is wrong");
  });

  it("hides bearer tokens and passwords in URLs", () => {
    expect(redactor.text("Authorization: Bearer eyJhbGciOi.payload.sig")).toBe("Authorization: Bearer ***");
    expect(redactor.text("fetch https://bob:pa55word@example.test/x failed")).toBe(
      "fetch https://bob:***@example.test/x failed",
    );
  });
});

describe("createRedactor().text on YAML", () => {
  const redactor = createRedactor({ keys: DEFAULT_REDACT_KEYS });

  it("hides block scalars under secret keys, leaving the lines after them", () => {
    const yaml = [
      "dns:",
      "  tsig_secret: |",
      "    c2VjcmV0IGxpbmUgMQ==",
      "    c2VjcmV0IGxpbmUgMg==",
      "  zone: example.test",
      "host: loki",
      "",
    ].join("\n");
    expect(redactor.text(yaml)).toBe(
      ["dns:", "  tsig_secret: |", "    ***", "  zone: example.test", "host: loki", ""].join("\n"),
    );
    const list = ["items:", "  - api_token: >-", "      abcdef", "      ghijkl", "  - name: x"].join("\n");
    expect(redactor.text(list)).toBe(["items:", "  - api_token: >-", "      ***", "  - name: x"].join("\n"));
  });
});

describe("createRedactor().text on YAML list items", () => {
  it("ends a hidden block at a sibling key of the same list item", () => {
    const redactor = createRedactor({ keys: DEFAULT_REDACT_KEYS });
    const yaml = ["items:", "  - api_token: |", "      abcdef", "    name: x", "  - name: y"].join("\n");
    expect(redactor.text(yaml)).toBe(
      ["items:", "  - api_token: |", "      ***", "    name: x", "  - name: y"].join("\n"),
    );
  });
});
