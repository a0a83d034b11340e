// planCluster (src/clipboard/cluster.ts): a design's `instances:` split into single-host designs in
// dependency order. Kept here with the provider tests it belongs with (clusters span providers).
import { describe, expect, it } from "vitest";
import { planCluster } from "../../../src/clipboard/cluster.js";
import { parseYamlMapping } from "../../../src/clipboard/yaml.js";
import { DesignError } from "../../../src/errors.js";

const plan = (text: string): ReturnType<typeof planCluster> => {
  const parsed = parseYamlMapping(text, "cluster.yml");
  return planCluster(parsed.value, parsed.source, parsed.lineOf);
};
const failure = (text: string): DesignError => {
  try {
    plan(text);
  } catch (err) {
    expect(err).toBeInstanceOf(DesignError);
    return err as DesignError;
  }
  throw new Error("planCluster accepted a bad design");
};

describe("planCluster", () => {
  it("treats a single-host design as a cluster of one, unchanged", () => {
    const members = plan("instance:\n  hostname: loki\n  provider: local\nowner: ops\n");
    expect(members).toEqual([
      {
        host: "loki",
        design: { instance: { hostname: "loki", provider: "local" }, owner: "ops" },
        after: [],
      },
    ]);
  });

  it("splits instances into single-host designs, shared keys copied, ordered by after", () => {
    const members = plan(
      [
        "owner: ops",
        "puppet: {env: production}",
        "instances:",
        "  - hostname: web1",
        "    provider: linode",
        "    after: db",
        "  - hostname: web2",
        "    provider: linode",
        "    after: [db, cache]",
        "  - hostname: cache",
        "    provider: linode",
        "  - hostname: db",
        "    provider: ec2",
        "    size: m5.large",
        "",
      ].join("\n"),
    );
    expect(members.map((m) => m.host)).toEqual(["cache", "db", "web1", "web2"]);
    const web2 = members.find((m) => m.host === "web2")!;
    expect(web2.after).toEqual(["db", "cache"]);
    expect(web2.design).toEqual({
      owner: "ops",
      puppet: { env: "production" },
      instance: { hostname: "web2", provider: "linode" },
    });
    expect(members.find((m) => m.host === "db")!.design.instance).toEqual({
      hostname: "db",
      provider: "ec2",
      size: "m5.large",
    });
    expect("instances" in web2.design).toBe(false);
  });

  it("gives each member its own copy of the shared keys' top level", () => {
    const members = plan("owner: ops\ninstances:\n  - hostname: a\n  - hostname: b\n");
    members[0]!.design.owner = "changed";
    expect(members[1]!.design.owner).toBe("ops");
  });

  it("refuses an after that names no member, with file and line", () => {
    const err = failure("instances:\n  - hostname: web1\n    after: [dbx]\n  - hostname: db\n");
    expect(err.code).toBe("E_DESIGN_FIELD");
    expect(err.message).toBe(
      "cluster.yml:3: instances[0].after names 'dbx', which is not a hostname in this cluster (hosts: web1, db)",
    );
  });

  it("refuses a cycle, naming it and the line", () => {
    const err = failure(
      "instances:\n  - hostname: a\n    after: c\n  - hostname: b\n    after: a\n  - hostname: c\n    after: b\n  - hostname: d\n",
    );
    expect(err.code).toBe("E_DESIGN_CYCLE");
    expect(err.message).toMatch(
      /^cluster\.yml:3: the cluster's 'after' lists form a cycle \(a -> c -> b -> a\)/,
    );
  });

  it("refuses a host after itself", () => {
    expect(failure("instances:\n  - hostname: a\n    after: a\n").message).toBe(
      "cluster.yml:3: a cannot come after itself; remove 'a' from its 'after'",
    );
  });

  it("refuses duplicate hostnames, both instance and instances, and malformed members", () => {
    expect(failure("instances:\n  - hostname: a\n  - hostname: a\n").message).toMatch(
      /^cluster\.yml:3: instances\[1\]\.hostname 'a' is already used by instances\[0\]/,
    );
    expect(failure("instance: {hostname: a}\ninstances:\n  - hostname: b\n").message).toMatch(
      /^cluster\.yml:1: the design has both/,
    );
    expect(failure("instances: []\n").message).toMatch(
      /^cluster\.yml:1: 'instances:' must be a non-empty list/,
    );
    expect(failure("instances:\n  - just-a-name\n").message).toMatch(
      /^cluster\.yml:2: instances\[0\] must be a mapping/,
    );
    expect(failure("instances:\n  - provider: ec2\n").message).toMatch(
      /^cluster\.yml:2: instances\[0\]\.hostname is missing/,
    );
    expect(failure("instances:\n  - hostname: a\n    after: {b: 1}\n").message).toMatch(
      /after must be a hostname or a list of hostnames/,
    );
    expect(failure("owner: x\n").message).toMatch(/needs an 'instance:' mapping/);
  });
});
