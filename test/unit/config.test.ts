import { describe, expect, it } from "vitest";
import { buildConfig, packageRoot } from "../../src/config.js";
import type { JarvisConfig } from "../../src/config.js";
import { parseYamlMapping } from "../../src/clipboard/yaml.js";
import { ConfigError } from "../../src/errors.js";

const FILE = "/etc/jarvis/jarvis.yml";

function load(text: string, env: NodeJS.ProcessEnv = {}): JarvisConfig {
  return buildConfig(parseYamlMapping(text, FILE), FILE, env);
}

function refusal(text: string, env: NodeJS.ProcessEnv = {}): ConfigError {
  try {
    load(text, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error("expected a ConfigError, but the configuration was accepted");
}

describe("jarvis.yml is checked as a whole when loaded", () => {
  it("refuses unknown keys with their line and the nearest known key", () => {
    expect(refusal("store:\n  path: x.sqlite\npipeline:\n  dirs: [p]\n").message).toBe(
      `${FILE}:3: unknown key 'pipeline'; did you mean 'pipelines'?`,
    );
    expect(refusal("store:\n  pth: x.sqlite\n").message).toBe(
      `${FILE}:2: unknown key 'store.pth'; did you mean 'store.path'?`,
    );
    expect(refusal("engine:\n  lease_secs: 10\n").message).toBe(
      `${FILE}:2: unknown key 'engine.lease_secs'; did you mean 'engine.lease_seconds'?`,
    );
    expect(refusal("modules:\n  dns:\n    wiht: {port: 53}\n").message).toBe(
      `${FILE}:3: unknown key 'modules.dns.wiht'; did you mean 'modules.dns.with'?`,
    );
    const far = refusal("frobnicate: 1\n");
    expect(far.code).toBe("E_CONFIG_FIELD");
    expect(far.message).toMatch(
      /^\/etc\/jarvis\/jarvis\.yml:1: unknown key 'frobnicate'; known keys here: store, /,
    );
  });

  it("reports the mistake that comes first in the file", () => {
    expect(refusal("engine:\n  lease_seconds: 1\nstore:\n  pth: x\n").message).toBe(
      `${FILE}:2: engine.lease_seconds must be a number of seconds, at least 2`,
    );
  });

  it("keeps the wording of each setting's refusal", () => {
    expect(refusal("store:\n  path: [a]\n").message).toBe(`${FILE}:2: store.path must be a file path`);
    expect(refusal("steps:\n  dirs: steps\n").message).toMatch(/^\S+:2: steps\.dirs must be a list of paths/);
    expect(refusal("redact:\n  keys: pin\n").message).toBe(
      `${FILE}:2: redact.keys must be a list of key names`,
    );
    expect(refusal("modules:\n  dns: [1]\n").message).toBe(
      `${FILE}:2: modules.dns must be a mapping with 'with' and/or 'env'`,
    );
  });

  it("checks modules.<m>.with against the module's parameter schema", () => {
    expect(refusal("modules:\n  dns:\n    with:\n      server: 127.0.0.1\n      prot: 53\n").message).toBe(
      `${FILE}:5: unknown parameter 'modules.dns.with.prot'; did you mean 'modules.dns.with.port'?`,
    );
    expect(refusal("modules:\n  ssh:\n    with: {port: 70000}\n").message).toBe(
      `${FILE}:3: modules.ssh.with.port must be a TCP port number (1-65535)`,
    );
    // External modules declare no parameters: anything goes to them.
    expect(load("modules:\n  hello:\n    with: {anything: [1]}\n").modules.hello?.with).toEqual({
      anything: [1],
    });
  });

  it("expands ${VAR} in module environments and never echoes a secret in a refusal", () => {
    const config = load("modules:\n  dns:\n    env: {DNS_TSIG_SECRET: '${TSIG}'}\n", { TSIG: "c2VjcmV0" });
    expect(config.modules.dns?.env).toEqual({ DNS_TSIG_SECRET: "c2VjcmV0" });
    expect(refusal("modules:\n  dns:\n    env: {DNS_TSIG_SECRET: '${TSIG}'}\n").message).toBe(
      `${FILE}:3: environment variable TSIG is not set; export it before starting jarvis`,
    );
    for (const text of [
      "modules:\n  dns:\n    with: {secret: hunter2-canary}\n",
      "modules:\n  dns:\n    env: {DNS_TSIG_SECRET: [hunter2-canary]}\n",
      "store:\n  path: {hunter2-canary: 1}\n",
      "sources:\n  ldap:\n    url: ldap://x\n    base_dn: dc=x\n    bind_dn: cn=x\n    password: hunter2-canary\n",
    ]) {
      expect(refusal(text).message, text).not.toContain("hunter2-canary");
    }
  });

  it("selects PostgreSQL by store.url, with ${VAR} expanded, and refuses half a store setting", () => {
    const pgStore = load("store:\n  url: postgres://jarvis:${PGPASS}@db/jarvis\n", {
      PGPASS: "s3cret",
    }).store;
    expect(pgStore).toMatchObject({ kind: "postgres", url: "postgres://jarvis:s3cret@db/jarvis" });
    const sqliteStore = load("store: {path: x.sqlite}\n").store;
    expect(sqliteStore.kind).toBe("sqlite");
    expect(sqliteStore.url).toBeUndefined();
    expect(refusal("store:\n  kind: postgres\n").message).toBe(
      `${FILE}:2: store.kind postgres needs store.url (postgres://user@host/db)`,
    );
    expect(refusal("store:\n  kind: sqlite\n  url: postgres://db/j\n").message).toContain(
      "store.url is for PostgreSQL",
    );
    const notUrl = refusal("store:\n  url: mysql://jarvis:s3cret@db/j\n");
    expect(notUrl.message).toBe(`${FILE}:2: store.url must be a postgres:// URL`);
    expect(refusal("store:\n  urll: postgres://db/j\n").message).toContain("did you mean 'store.url'?");
  });

  it("has designs: dirs (designs/ next to jarvis.yml and jarvis's examples/) and max_bytes (16 MiB)", () => {
    expect(load("store: {path: x.sqlite}\n").designs).toEqual({
      dirs: ["/etc/jarvis/designs", `${packageRoot()}/examples`],
      maxBytes: 16777216,
    });
    expect(load("designs:\n  dirs: [hosts, /srv/designs]\n  max_bytes: 2048\n").designs).toEqual({
      dirs: ["/etc/jarvis/hosts", "/srv/designs"],
      maxBytes: 2048,
    });
    expect(refusal("designs:\n  max_bytes: 1.5\n").message).toBe(
      `${FILE}:2: designs.max_bytes must be a whole number of bytes`,
    );
    expect(refusal("designs:\n  dir: [x]\n").message).toBe(
      `${FILE}:2: unknown key 'designs.dir'; did you mean 'designs.dirs'?`,
    );
  });

  it("accepts empty sections and the embedded defaults", () => {
    const config = load("store:\nsteps:\nengine:\n");
    expect(config.leaseMs).toBe(30_000);
    expect(buildConfig(undefined, undefined).designs.maxBytes).toBe(16777216);
  });
});
