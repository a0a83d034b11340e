import { describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { escapeRdnValue, hostAttributes, hostDn, mappingFrom } from "../../../src/workers/ldap-entry.js";
import { sshfpRecords } from "../../../src/workers/dns.js";
import { checkResponse, encodeUpdate, sign } from "../../../src/workers/dns-update.js";
import { fingerprint, knownHostsName } from "../../../src/workers/ssh-client.js";
import { commandsFrom } from "../../../src/workers/ssh.js";
import { isProduction } from "../../../src/workers/production-mark.js";
import { silenceMatchers } from "../../../src/workers/monitoring.js";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAswVXqfxOkOM1h9osfsETZbgKXK7xQ5XoOozfIXPGGG";

describe("deploy step helpers", () => {
  it("escapes DN values and builds the host DN", () => {
    expect(escapeRdnValue("a,b+c=d")).toBe("a\\,b\\+c\\=d");
    expect(escapeRdnValue(" x ")).toBe("\\ x\\ ");
    expect(escapeRdnValue("#x\\")).toBe("\\#x\\\\");
    expect(hostDn("loki", "ou=Hosts", "dc=example,dc=test")).toBe("cn=loki,ou=Hosts,dc=example,dc=test");
  });

  it("maps clipboard facts onto attributes and refuses unknown mapping keys", () => {
    const clip = {
      instance: { hostname: "loki" },
      local: { ipv4: "127.0.0.7", ipv6: "::1", state: "running" },
      ssh: { fingerprints: ["SHA256:x"] },
    };
    expect(hostAttributes(clip, mappingFrom({}))).toEqual({
      ipHostNumber: ["127.0.0.7", "::1"],
      info: ["SHA256:x"],
      description: ["deployed by jarvis with provider local, running"],
    });
    expect(() => mappingFrom({ attributes: { colour: "x" } })).toThrow(/attributes\.colour is not known/);
    expect(() => mappingFrom({ attributes: { address: "bad name" } })).toThrow(/must be an attribute name/);
  });

  it("computes SSHFP records and SHA256 fingerprints from the key blob", () => {
    const blob = Buffer.from(KEY.split(" ")[1]!, "base64");
    const records = sshfpRecords("loki.example.test", 60, [KEY, "ssh-unknown AAAA"]);
    expect(records.map((r) => (r as { data: { algorithm: number; hash: number } }).data)).toEqual([
      { algorithm: 4, hash: 1, fingerprint: createHash("sha1").update(blob).digest("hex") },
      { algorithm: 4, hash: 2, fingerprint: createHash("sha256").update(blob).digest("hex") },
    ]);
    expect(fingerprint(KEY)).toBe(
      `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`,
    );
    expect(knownHostsName("127.0.0.1", 2222)).toBe("[127.0.0.1]:2222");
    expect(knownHostsName("::1", 22)).toBe("::1");
  });

  it("signs UPDATE messages and refuses an unsigned NOERROR reply", () => {
    const msg = encodeUpdate(
      { zone: "example.test", deleteRRsets: [{ name: "loki.example.test", type: "A" }], add: [] },
      0x1234,
    );
    expect(msg.readUInt16BE(2) >> 11).toBe(5);
    const key = { name: "k", algorithm: "hmac-sha256" as const, secret: Buffer.alloc(32, 1) };
    const { signed, mac } = sign(msg, key, 1_700_000_000);
    expect(signed.readUInt16BE(10)).toBe(1);
    expect(mac).toHaveLength(32);
    const reply = Buffer.from(msg);
    reply.writeUInt16BE(0x8000 | (5 << 11), 2);
    expect(() => checkResponse(reply, key, mac, 0x1234)).toThrow(/without signing/);
    reply.writeUInt16BE(0x8000 | (5 << 11) | 9, 2);
    expect(checkResponse(reply, key, mac, 0x1234)).toBe(9);
  });

  it("reads ssh:run commands from params or the design, naming a bad field", () => {
    expect(commandsFrom({}, { commands: "uname" })).toEqual(["uname"]);
    expect(commandsFrom({ commands: { mounts: ["a", "b"] } }, { from: "commands.mounts" })).toEqual([
      "a",
      "b",
    ]);
    expect(commandsFrom({}, { from: "commands.none" })).toEqual([]);
    expect(() => commandsFrom({ commands: { mounts: [1] } }, { from: "commands.mounts" })).toThrow(
      /clipboard field commands\.mounts must be a command/,
    );
  });

  it("decides production and builds silence matchers with escaped names", () => {
    expect([true, "yes", ["production"], false, "no", undefined].map(isProduction)).toEqual([
      true,
      true,
      true,
      false,
      false,
      false,
    ]);
    expect(silenceMatchers({ instance: { hostname: "loki", fqdn: "loki.example.test" } }, {})).toEqual([
      { name: "instance", value: "(loki|loki\\.example\\.test)(:[0-9]+)?", isRegex: true, isEqual: true },
    ]);
    expect(
      silenceMatchers(
        { instance: { hostname: "loki" } },
        { matchers: [{ name: "host", value: "{hostname}" }] },
      ),
    ).toEqual([{ name: "host", value: "loki", isRegex: false, isEqual: true }]);
  });
});
