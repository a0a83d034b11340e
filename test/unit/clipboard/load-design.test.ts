import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadDesign, loadDesignText } from "../../../src/clipboard/load-design.js";
import { FileSource } from "../../../src/clipboard/sources/file-source.js";
import { createDesignSources } from "../../../src/clipboard/sources/registry.js";
import { parseYamlMapping } from "../../../src/clipboard/yaml.js";
import { buildConfig } from "../../../src/config.js";
import type { JarvisConfig } from "../../../src/config.js";
import { JarvisError } from "../../../src/errors.js";
import { startHttpFixture } from "./http-fixture.js";
import type { HttpFixture } from "./http-fixture.js";

let dir: string;
let api: HttpFixture;

function config(yaml: string): JarvisConfig {
  return buildConfig(parseYamlMapping(yaml, "jarvis.yml"), "jarvis.yml");
}

const defaults = (): JarvisConfig => buildConfig(undefined, undefined);

async function refusal(promise: Promise<unknown>): Promise<JarvisError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(JarvisError);
  return err as JarvisError;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "jarvis-designs-"));
  api = await startHttpFixture();
  api.route("/gists/abc123", (_req, res) =>
    res.end(
      JSON.stringify({
        files: {
          "thor.yml": {
            filename: "thor.yml",
            truncated: false,
            content: "instance:\n  hostname: thor\n  size: 1024\n",
          },
        },
      }),
    ),
  );
  api.route("/bad.yml", (_req, res) => res.end("instance:\n  hostname: loki\n  size: big\n"));
});

afterAll(async () => {
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("loadDesign", () => {
  it("loads examples/loki.yml into a clipboard with defaults, its YAML and its host", async () => {
    const design = await loadDesign("examples/loki.yml", createDesignSources(defaults()));
    expect(design.host).toBe("loki");
    expect(design.origin).toBe("examples/loki.yml");
    expect(design.clipboard).toMatchObject({
      instance: { hostname: "loki", fqdn: "loki.example.test", provider: "local", size: 2048 },
    });
    expect(parseYamlMapping(design.yaml, "yaml").value).toEqual(design.clipboard);
  });

  it("fills in provider: local when the design leaves it out", () => {
    const design = loadDesignText("instance:\n  hostname: odin\n", "inline");
    expect(design.clipboard).toEqual({ instance: { hostname: "odin", provider: "local" } });
    expect(design.yaml).toBe("instance:\n  hostname: odin\n  provider: local\n");
  });

  it("names file and line for invalid designs, and refuses bombs and several documents", async () => {
    const sources = createDesignSources(defaults());
    const cases: [string, string, string][] = [
      [
        "bad-size.yml",
        "E_DESIGN_FIELD",
        "test/fixtures/designs/bad-size.yml:4: instance.size must be a number above 0, got 'big'",
      ],
      ["bomb.yml", "E_YAML_BOMB", "test/fixtures/designs/bomb.yml: too many alias expansions"],
      [
        "two-documents.yml",
        "E_YAML_MULTIPLE",
        "test/fixtures/designs/two-documents.yml:3: several YAML documents",
      ],
      ["syntax-error.yml", "E_YAML_SYNTAX", "test/fixtures/designs/syntax-error.yml:"],
      [
        "missing-hostname.yml",
        "E_DESIGN_FIELD",
        "test/fixtures/designs/missing-hostname.yml:1: instance.hostname is missing",
      ],
    ];
    for (const [file, code, start] of cases) {
      const err = await refusal(loadDesign(`test/fixtures/designs/${file}`, sources, { fileAccess: "any" }));
      expect(err.code, file).toBe(code);
      expect(err.message.startsWith(start), err.message).toBe(true);
    }
  });

  it("loads from a gist and a URL through the configured sources, with their origin in messages", async () => {
    const sources = createDesignSources(
      config(`sources:\n  timeout_seconds: 10\n  gist:\n    api: ${api.base}\n`),
      {},
    );
    const design = await loadDesign("gist:abc123", sources);
    expect(design).toMatchObject({ host: "thor", origin: "gist:abc123/thor.yml" });
    const err = await refusal(loadDesign(`${api.base}/bad.yml`, sources));
    expect(err.code).toBe("E_DESIGN_FIELD");
    expect(err.message).toBe(`${api.base}/bad.yml:3: instance.size must be a number above 0, got 'big'`);
  });

  it("refuses cn= refs until LDAP is configured, and refs no source knows", async () => {
    const sources = createDesignSources(defaults());
    const ldap = await refusal(loadDesign("cn=loki", sources));
    expect(ldap.code).toBe("E_SOURCE_UNCONFIGURED");
    expect(ldap.message).toBe("cn=loki: no LDAP source configured; add sources.ldap to jarvis.yml");
    const ftp = await refusal(loadDesign("ftp://example.test/loki.yml", sources));
    expect(ftp.code).toBe("E_SOURCE_UNKNOWN");
    expect(ftp.message).toBe(
      "'ftp://example.test/loki.yml' is not a design reference jarvis knows; give a file path, an http(s) URL, gist:<id> or cn=<host>",
    );
  });

  it("applies the configured size limit to every source", async () => {
    const file = join(dir, "padded.yml");
    writeFileSync(file, `instance:\n  hostname: loki\n# ${"x".repeat(2000)}\n`);
    const sources = createDesignSources(config("designs:\n  max_bytes: 1000\n"));
    const err = await refusal(loadDesign(file, sources, { fileAccess: "any" }));
    expect(err.code).toBe("E_SOURCE_TOO_LARGE");
  });
});

describe("createDesignSources", () => {
  it("lists the sources in match order: cn=, gist:, URL, file", () => {
    expect(createDesignSources(defaults()).map((s) => s.name)).toEqual(["ldap", "gist", "url", "file"]);
  });

  it("refuses bad sources settings naming jarvis.yml's line", () => {
    const cases: [string, RegExp][] = [
      ["sources: [a]\n", /^jarvis\.yml:1: sources must be a mapping, got a list$/],
      [
        "redact: {}\nsources:\n  timeout_seconds: soon\n",
        /^jarvis\.yml:3: sources\.timeout_seconds must be a number of seconds above 0$/,
      ],
      ["designs:\n  max_bytes: -5\n", /^jarvis\.yml:2: designs\.max_bytes must be a whole number of bytes$/],
      [
        "sources:\n  max_bytes: 1000\n",
        /^jarvis\.yml:2: unknown key 'sources\.max_bytes'; known keys here: timeout_seconds, gist, ldap$/,
      ],
      [
        "sources:\n  gist:\n    api: ftp://x\n",
        /^jarvis\.yml:3: sources\.gist\.api must be an http\(s\) URL/,
      ],
      ["sources:\n  gist: yes\n", /^jarvis\.yml:2: sources\.gist must be a mapping, got a string$/],
    ];
    for (const [yaml, message] of cases) {
      let caught: unknown;
      try {
        createDesignSources(config(yaml));
      } catch (err) {
        caught = err;
      }
      expect(caught, yaml).toBeInstanceOf(JarvisError);
      expect((caught as JarvisError).code).toBe("E_CONFIG_FIELD");
      expect((caught as JarvisError).message).toMatch(message);
    }
  });
});

describe("FileSource", () => {
  const source = new FileSource({ maxBytes: 1000 });
  const signal = (): AbortSignal => new AbortController().signal;

  it("accepts paths, not refs meant for other sources", () => {
    expect(source.accepts("examples/loki.yml")).toBe(true);
    expect(source.accepts("/abs/loki.yml")).toBe(true);
    expect(source.accepts("https://example.test/x.yml")).toBe(false);
    expect(source.accepts("gist:abc")).toBe(false);
    expect(source.accepts("cn=loki")).toBe(false);
    expect(source.accepts("")).toBe(false);
  });

  it("reads a file relative to the working directory, keeping the ref as origin", async () => {
    const rel = relative(process.cwd(), join(dir, "ok.yml"));
    writeFileSync(join(dir, "ok.yml"), "instance:\n  hostname: loki\n");
    const got = await source.fetch(rel, signal(), "any");
    expect(got.origin).toBe(rel);
    expect(got.text.toString()).toBe("instance:\n  hostname: loki\n");
  });

  it("refuses missing files, directories, devices and files over the limit", async () => {
    const missing = await refusal(source.fetch("test/fixtures/designs/nope.yml", signal(), "any"));
    expect(missing.code).toBe("E_SOURCE_NOT_FOUND");
    expect(missing.message).toBe(
      `design file test/fixtures/designs/nope.yml does not exist (looked for ${join(process.cwd(), "test/fixtures/designs/nope.yml")}); check the path`,
    );
    const folder = await refusal(source.fetch("test/fixtures/designs/", signal(), "any"));
    expect(folder.code).toBe("E_SOURCE_NOT_A_FILE");
    expect(folder.message).toBe(
      "test/fixtures/designs/ is a directory; name the design file in it (e.g. test/fixtures/designs/loki.yml)",
    );
    const device = await refusal(source.fetch("/dev/zero", signal(), "any"));
    expect(device.code).toBe("E_SOURCE_NOT_A_FILE");
    writeFileSync(join(dir, "big.yml"), "a".repeat(1001));
    const big = await refusal(source.fetch(join(dir, "big.yml"), signal(), "any"));
    expect(big.code).toBe("E_SOURCE_TOO_LARGE");
    expect(big.message).toBe(
      `${join(dir, "big.yml")} is 1001 bytes, over the design file size limit of 1000 bytes; is this the right file? (docs/limits.md says how to raise the limit)`,
    );
  });
});
