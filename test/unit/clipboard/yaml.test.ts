import { describe, expect, it } from "vitest";
import { parseYamlMapping, dumpYaml } from "../../../src/clipboard/yaml.js";
import { YamlError } from "../../../src/errors.js";

/** The YamlError parseYamlMapping throws for `text` (fails the test when it parses). */
function refusal(text: string | Buffer, limits = {}): YamlError {
  try {
    parseYamlMapping(text, "t.yml", limits);
  } catch (err) {
    expect(err).toBeInstanceOf(YamlError);
    return err as YamlError;
  }
  throw new Error(`expected ${JSON.stringify(String(text).slice(0, 40))} to be refused`);
}

function laughs(levels: number): string {
  const lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'];
  for (let i = 1; i < levels; i++)
    lines.push(`l${i}: &l${i} [${Array.from({ length: 10 }, () => `*l${i - 1}`).join(", ")}]`);
  return `${lines.join("\n")}\n`;
}

describe("parseYamlMapping", () => {
  it("reads a mapping and points at lines of nested keys and list items", () => {
    const parsed = parseYamlMapping("# c\ninstance:\n  hostname: loki\n  tags:\n    - a\n    - b\n", "t.yml");
    expect(parsed.value).toEqual({ instance: { hostname: "loki", tags: ["a", "b"] } });
    expect(parsed.source).toBe("t.yml");
    expect(parsed.lineOf(["instance", "hostname"])).toBe(3);
    expect(parsed.lineOf(["instance", "tags", 1])).toBe(6);
    // A missing key points at its nearest existing parent.
    expect(parsed.lineOf(["instance", "size"])).toBe(2);
    expect(parsed.lineOf(["nothing"])).toBeUndefined();
  });

  it("refuses a billion-laughs bomb instead of expanding it", () => {
    const err = refusal(laughs(9));
    expect(err.code).toBe("E_YAML_BOMB");
    expect(err.message).toMatch(/^t\.yml: too many alias expansions/);
  });

  it("refuses one anchor aliased 99 times that expands past the size limit (a design bomb)", () => {
    // 99 aliases pass the alias count; what they stand for, some 100 MB, must not.
    const text = `big: &big "${"x".repeat(1024 * 1024)}"\ncopies: [${Array.from({ length: 99 }, () => "*big").join(", ")}]\n`;
    const err = refusal(text);
    expect(err.code).toBe("E_YAML_BOMB");
    expect(err.message).toMatch(/^t\.yml: with its aliases expanded the document is over 16777216 bytes/);
  });

  it("accepts a few plain aliases", () => {
    expect(parseYamlMapping("a: &x {k: 1}\nb: *x\n", "t.yml").value).toEqual({ a: { k: 1 }, b: { k: 1 } });
  });

  it("refuses an alias inside its own anchor (a cyclic value)", () => {
    const err = refusal("a: 1\nb: &x [1, *x]\n");
    expect(err.code).toBe("E_YAML_SYNTAX");
    expect(err.message).toBe("t.yml:2: alias *x refers to a node that contains it (a cycle)");
  });

  it("refuses an alias with no anchor, naming its line", () => {
    const err = refusal("a: 1\n\nb: *nope\n");
    expect(err.code).toBe("E_YAML_SYNTAX");
    expect(err.message).toBe("t.yml:3: alias *nope has no anchor &nope before it");
  });

  it("refuses documents over the size limit before parsing them", () => {
    const err = refusal(`a: "${"x".repeat(2000)}"\n`, { maxBytes: 1000 });
    expect(err.code).toBe("E_YAML_TOO_LARGE");
    expect(err.message).toMatch(/^t\.yml: document is 2006 bytes, over the limit of 1000 bytes/);
    // Bytes, not characters, count.
    expect(refusal(Buffer.from(`a: ${"é".repeat(600)}\n`), { maxBytes: 1000 }).code).toBe("E_YAML_TOO_LARGE");
  });

  it("refuses several documents, naming the line of the second", () => {
    const err = refusal("a: 1\nb: 2\n---\nc: 3\n");
    expect(err.code).toBe("E_YAML_MULTIPLE");
    expect(err.message).toMatch(/^t\.yml:3: several YAML documents/);
  });

  it("accepts one document with a leading --- or a trailing ...", () => {
    expect(parseYamlMapping("---\na: 1\n", "t.yml").value).toEqual({ a: 1 });
    expect(parseYamlMapping("a: 1\n...\n", "t.yml").value).toEqual({ a: 1 });
  });

  it.each([
    ["- a\n- b\n", "a list"],
    ["just text\n", "a scalar"],
    ["42\n", "a scalar"],
  ])("refuses a non-mapping root %j", (text, kind) => {
    const err = refusal(text);
    expect(err.code).toBe("E_YAML_NOT_MAPPING");
    expect(err.message).toBe(`t.yml:1: the document is ${kind}; expected a mapping (key: value)`);
  });

  it.each(["", "   \n\n", "# only a comment\n"])("refuses empty input %j", (text) => {
    const err = refusal(text);
    expect(err.code).toBe("E_YAML_EMPTY");
    expect(err.message).toBe("t.yml: empty document; expected a YAML mapping");
  });

  it("refuses binary junk: invalid UTF-8 and control bytes, with their line", () => {
    const png = refusal(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00]));
    expect(png.code).toBe("E_YAML_BINARY");
    expect(png.message).toBe("t.yml:1: not YAML text (invalid UTF-8); is this the right file?");
    const nul = refusal("a: 1\nb: \u0000\n");
    expect(nul.code).toBe("E_YAML_BINARY");
    expect(nul.message).toBe("t.yml:2: not YAML text (control byte 0x00); is this the right file?");
  });

  it("reports syntax errors with their line", () => {
    const err = refusal("instance:\n  hostname: loki\n  tags: [web, db\n  size: 2048\n");
    expect(err.code).toBe("E_YAML_SYNTAX");
    expect(err.message).toMatch(/^t\.yml:[34]: /);
    const indent = refusal("a: 1\nb: 2\nc: d: e\n");
    expect(indent.code).toBe("E_YAML_SYNTAX");
    expect(indent.message).toMatch(/^t\.yml:3: /);
  });

  it("refuses duplicate keys, also nested, at the line of the duplicate", () => {
    const top = refusal("a: 1\nb: 2\na: 3\n");
    expect(top.code).toBe("E_YAML_SYNTAX");
    expect(top.message).toBe("t.yml:3: Map keys must be unique; 'a' appears twice");
    const nested = refusal("x:\n  k: 1\n  k: 2\n");
    expect(nested.message).toBe("t.yml:3: Map keys must be unique; 'k' appears twice");
  });

  it("refuses tags beyond the core schema instead of building foreign objects", () => {
    for (const [text, tag] of [
      ["a: 1\nb: !!binary aGVsbG8=\n", "!!binary"],
      ["a: !!python/object:os.system x\n", "!!python/object:os.system"],
      ["a: 1\nb: 2\nc: !custom x\n", "!custom"],
    ] as const) {
      const err = refusal(text);
      expect(err.code).toBe("E_YAML_TAG");
      expect(err.message).toMatch(
        new RegExp(
          `^t\\.yml:${text.split("\n").length - 1}: unsupported tag ${tag.replace(/[.*+?^${}()|[\]\\/!]/g, "\\$&")};`,
        ),
      );
    }
    // Core tags are fine.
    expect(parseYamlMapping("a: !!str 12\n", "t.yml").value).toEqual({ a: "12" });
  });

  it("refuses collections as keys", () => {
    const err = refusal("a: 1\n? [1, 2]\n: 3\n");
    expect(err.code).toBe("E_YAML_SYNTAX");
    expect(err.message).toMatch(/^t\.yml:2: a list, mapping or alias used as a key/);
  });

  it("refuses absurd nesting with a clear error instead of overflowing the stack", () => {
    const err = refusal(`a: ${"[".repeat(5000)}${"]".repeat(5000)}\n`);
    expect(err.code).toBe("E_YAML_TOO_DEEP");
    expect(err.message).toMatch(/nested too deeply/);
    // Deep enough to trouble every walker after it, though the parser copes.
    const walkers = refusal(`a: ${"[".repeat(300)}${"]".repeat(300)}\n`);
    expect(walkers.code).toBe("E_YAML_TOO_DEEP");
    expect(walkers.message).toBe("t.yml: nested more than 256 levels deep; flatten the document");
  });

  it("keeps a __proto__ key as plain data", () => {
    const value = parseYamlMapping("__proto__:\n  polluted: 1\n", "t.yml").value;
    expect(Object.hasOwn(value, "__proto__")).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("round-trips what dumpYaml writes, without aliases for repeated objects", () => {
    const shared = { k: [1, 2] };
    const text = dumpYaml({ a: shared, b: shared, s: "yes", n: "007" });
    expect(text).not.toMatch(/[&*]/);
    expect(parseYamlMapping(text, "t.yml").value).toEqual({ a: shared, b: shared, s: "yes", n: "007" });
  });
});
