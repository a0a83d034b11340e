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
    // A value runs to the end of its line, spaces included: a partly shown password is shown.
    expect(redactor.text("root_password: hunter22 host: loki")).toBe("root_password: ***");
    expect(redactor.text("root_password: hunter22, host: loki")).toBe("root_password: ***, host: loki");
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

describe("secret keys", () => {
  const redactor = createRedactor({ keys: ["vault_ref"] });

  it("hides the values of every secret-looking key, and of redact.keys", () => {
    const design = {
      pass: "c-pass-1",
      db_pass: "c-pass-2",
      ldap: { passwd: "c-passwd", bindPw: "c-bindpw", "admin-pwd": "c-pwd" },
      secrets: ["c-list-1", "c-list-2"],
      credentials: { user: "svc", key: "c-cred" },
      conn: "postgres://svc@db/app",
      connection_string: "Server=db;Password=c-connstr",
      sentry_dsn: "c-dsn-value",
      DB_PASSWORD: "pa ss word",
      apiKey: "c-apikey",
      passphrase: "c-phrase",
      vault_ref: "c-custom",
    };
    const out = redactor.value(design);
    expect(Object.values(out).every((v) => v === "***" || typeof v === "object")).toBe(true);
    expect(JSON.stringify(out)).not.toMatch(/c-|svc|pa ss/);
  });

  it("leaves keys that only contain a short word inside another word", () => {
    const plain = { bypass: "yes-cache", connect_timeout: "30s", compass: "north", description: "pwd-less" };
    expect(redactor.value(plain)).toEqual(plain);
  });

  it("hides key: value text with spaces whole, and YAML lists and mappings under secret keys", () => {
    expect(redactor.text("db_password: pa ss word")).toBe("db_password: ***");
    expect(redactor.text('DB_PASS="pa ss word" next')).toBe('DB_PASS="***" next');
    expect(redactor.text("secrets:\n  - one-secret\n  - two-secret\nhost: loki")).toBe(
      "secrets:\n  ***\nhost: loki",
    );
    expect(redactor.text("secrets:\n- one-secret\n- two-secret\nhost: loki")).toBe(
      "secrets:\n  ***\nhost: loki",
    );
    expect(redactor.text("credentials:\n  user: svc\n  key: abcd\nhost: loki")).toBe(
      "credentials:\n  ***\nhost: loki",
    );
  });
});

describe("redaction by value", () => {
  const base = createRedactor({ keys: DEFAULT_REDACT_KEYS, secrets: ["env-secret-value"] });

  it("hides a value under a secret key wherever else it appears, whole, with its spaces", () => {
    const clipboard = { db: { password: "correct horse battery" }, notes: "pw is correct horse battery!" };
    expect(base.value(clipboard)).toEqual({ db: { password: "***" }, notes: "pw is ***!" });
    const learned = base.learn(clipboard);
    expect(learned.text("login with correct horse battery failed")).toBe("login with *** failed");
    expect(learned.text("env has env-secret-value")).toBe("env has ***");
  });

  it("hides every line of a multi-line secret, printed one line at a time", () => {
    const learned = base.learn({ ssh: { private_key: PEM } });
    for (const line of PEM.split("\n").slice(1, 3))
      expect(learned.text(`stderr: ${line}`)).toBe("stderr: ***");
  });

  it("learns the secrets a step adds to the clipboard and hides them in later lines and errors", () => {
    const before = base.learn({ instance: { root_password: "old-password" } });
    expect(before.text("new root password is R0tated-Pw-77")).toContain("R0tated-Pw-77");
    const after = before.learn({ instance: { root_password: "R0tated-Pw-77" } });
    expect(after.text("new root password is R0tated-Pw-77")).toBe("new root password is ***");
    expect(after.text("old was old-password")).toBe("old was ***");
  });

  it("hides URL userinfo and secret query parameters, and learns them from a design source", () => {
    expect(
      base.text("from https://ops:Url-Secret-1@host.test/d.yml?token=Q-Tok&x=1&sig=Q-Sig&key=Q-Key#f"),
    ).toBe("from https://ops:***@host.test/d.yml?token=***&x=1&sig=***&key=***#f");
    expect(base.text("https://ghp_TOKEN123@github.test/x ssh://root@loki")).toBe(
      "https://***@github.test/x ssh://root@loki",
    );
    const learned = base.learnText("https://ops:Url-Secret-1@host.test/d.yml?access_token=Q-Tok-2");
    expect(learned.text("echo Url-Secret-1 and Q-Tok-2")).toBe("echo *** and ***");
  });

  it("masks a 100 KB token and a long run of key characters in one pass, correctly", () => {
    const token = Buffer.from("x".repeat(75_000)).toString("base64");
    const redactor = base.learn({ blob: { secret: token } });
    expect(redactor.text(`value: ${token}\n`)).toBe("value: ***\n");
    const plain = `data: ${"a+".repeat(50_000)}`;
    expect(redactor.text(plain)).toBe(plain);
    expect(redactor.value({ api_token: token, copy: token })).toEqual({ api_token: "***", copy: "***" });
  });
});
