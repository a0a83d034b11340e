import { describe, expect, it } from "vitest";
import { decide, defaultPolicy, globMatch, rolesOf } from "../../../src/commands/acl.js";
import type { AclPolicy } from "../../../src/commands/acl.js";

const policy: AclPolicy = {
  configured: true,
  roles: new Map([
    ["operator", { name: "operator", commands: "*" as const, hosts: ["*"] }],
    ["web-ops", { name: "web-ops", commands: new Set(["redeploy", "retry", "cancel"]), hosts: ["web*"] }],
  ]),
  grants: new Map([
    ["irc:alice", ["operator"]],
    ["xmpp:alice@localhost", ["operator"]],
    ["irc:bob!~bob@127.0.0.1", ["web-ops"]],
  ]),
  roomsRead: true,
  persons: new Map(),
};

describe("decide", () => {
  it("allows a role's commands on its hosts, the same person on every network", () => {
    expect(
      decide(policy, { identity: "irc:alice", verb: "deploy", host: undefined, configuredRoom: true })
        .allowed,
    ).toBe(true);
    expect(
      decide(policy, {
        identity: "xmpp:alice@localhost",
        verb: "destroy",
        host: "loki",
        configuredRoom: false,
      }).allowed,
    ).toBe(true);
    expect(
      decide(policy, {
        identity: "irc:bob!~bob@127.0.0.1",
        verb: "redeploy",
        host: "web3",
        configuredRoom: true,
      }).allowed,
    ).toBe(true);
  });

  it("denies mutating commands outside the role's hosts or commands, naming the role needed", () => {
    const d = decide(policy, {
      identity: "irc:bob!~bob@127.0.0.1",
      verb: "redeploy",
      host: "loki",
      configuredRoom: true,
    });
    expect(d.allowed).toBe(false);
    expect(d.reason).toContain("needs role operator");
    expect(d.reason).toContain("you have web-ops");
    const destroy = decide(policy, {
      identity: "irc:bob!~bob@127.0.0.1",
      verb: "destroy",
      host: "web1",
      configuredRoom: true,
    });
    expect(destroy.allowed).toBe(false);
  });

  it("denies a source whose host is unknown unless a role is open to every host", () => {
    const restricted: AclPolicy = {
      ...policy,
      roles: new Map([["web-ops", { name: "web-ops", commands: new Set(["deploy"]), hosts: ["web*"] }]]),
      grants: new Map([["irc:carol", ["web-ops"]]]),
    };
    const d = decide(restricted, {
      identity: "irc:carol",
      verb: "deploy",
      host: undefined,
      configuredRoom: true,
    });
    expect(d.allowed).toBe(false);
    expect(d.reason).toContain("cn=<host>");
    expect(
      decide(restricted, { identity: "irc:carol", verb: "deploy", host: "web7", configuredRoom: true })
        .allowed,
    ).toBe(true);
  });

  it("treats a nick change as a different, unlisted identity", () => {
    const d = decide(policy, {
      identity: "irc:alice!~mallory@127.0.0.1",
      verb: "deploy",
      host: "loki",
      configuredRoom: true,
    });
    expect(d.allowed).toBe(false);
    expect(d.reason).toContain("has no role");
    expect(d.reason).toContain("operator");
  });

  it("gives read-only commands to members of configured rooms and to listed people, nothing else", () => {
    expect(
      decide(policy, { identity: "irc:zed!~z@h", verb: "status", host: "loki", configuredRoom: true })
        .allowed,
    ).toBe(true);
    expect(
      decide(policy, { identity: "irc:zed!~z@h", verb: "status", host: "loki", configuredRoom: false })
        .allowed,
    ).toBe(false);
    expect(
      decide(policy, { identity: "irc:bob!~bob@127.0.0.1", verb: "log", host: "loki", configuredRoom: false })
        .allowed,
    ).toBe(true);
    expect(
      decide(
        { ...policy, roomsRead: false },
        { identity: "irc:zed!~z@h", verb: "status", host: undefined, configuredRoom: true },
      ).allowed,
    ).toBe(false);
  });

  it("refuses everything without a verified identity", () => {
    const d = decide(policy, { identity: undefined, verb: "status", host: undefined, configuredRoom: true });
    expect(d.allowed).toBe(false);
    expect(d.reason).toContain("identity is not visible");
  });

  it("without an acl: the console operator may do everything, network users only read in rooms", () => {
    const none = defaultPolicy();
    expect(
      decide(none, { identity: "console:root", verb: "destroy", host: "loki", configuredRoom: true }).allowed,
    ).toBe(true);
    expect(
      decide(none, { identity: "irc:alice", verb: "deploy", host: "loki", configuredRoom: true }).allowed,
    ).toBe(false);
    expect(
      decide(none, { identity: "irc:alice", verb: "status", host: "loki", configuredRoom: true }).allowed,
    ).toBe(true);
    expect(
      decide(none, { identity: "irc:alice", verb: "status", host: "loki", configuredRoom: false }).allowed,
    ).toBe(false);
    expect(rolesOf(none, "irc:alice")).toEqual([]);
  });

  it("with an acl, the console user is like anyone else: listed or read-only", () => {
    expect(
      decide(policy, { identity: "console:root", verb: "deploy", host: "loki", configuredRoom: true })
        .allowed,
    ).toBe(false);
  });
});

describe("globMatch", () => {
  it("matches * and ? case-insensitively and escapes the rest", () => {
    expect(globMatch("web*", "WEB12")).toBe(true);
    expect(globMatch("db?", "db1")).toBe(true);
    expect(globMatch("db?", "db12")).toBe(false);
    expect(globMatch("a.b", "axb")).toBe(false);
    expect(globMatch("(x)", "(x)")).toBe(true);
  });
});
