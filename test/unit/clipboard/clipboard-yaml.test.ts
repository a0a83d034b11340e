import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseClipboardYaml } from "../../../src/clipboard/clipboard-yaml.js";
import { dumpYaml, parseYamlMapping } from "../../../src/clipboard/yaml.js";
import { YamlError } from "../../../src/errors.js";

/** The YamlError parseClipboardYaml throws for `text` (fails the test when it parses). */
async function refusal(text: string | Buffer, limits = {}): Promise<YamlError> {
  try {
    await parseClipboardYaml(text, "t.yml", limits);
  } catch (err) {
    expect(err).toBeInstanceOf(YamlError);
    return err as YamlError;
  }
  throw new Error(`expected ${JSON.stringify(String(text).slice(0, 40))} to be refused`);
}

function preciseRefusal(text: string): YamlError {
  try {
    parseYamlMapping(text, "t.yml");
  } catch (err) {
    return err as YamlError;
  }
  throw new Error("the precise parser accepted it");
}

function laughs(levels: number): string {
  const lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'];
  for (let i = 1; i < levels; i++)
    lines.push(`l${i}: &l${i} [${Array.from({ length: 10 }, () => `*l${i - 1}`).join(", ")}]`);
  return `${lines.join("\n")}\n`;
}

describe("parseClipboardYaml (the hot path)", () => {
  it.each([
    ["duplicate key", "a: 1\nb: 2\na: 3\n"],
    ["nested duplicate key", "x:\n  k: 1\n  k: 2\n"],
    ["binary tag", "a: 1\nb: !!binary aGVsbG8=\n"],
    ["foreign tag", "a: !!python/object:os.system x\n"],
    ["custom tag", "a: 1\nb: 2\nc: !custom x\n"],
    ["syntax error", "instance:\n  hostname: loki\n  tags: [web, db\n  size: 2048\n"],
    ["several documents", "a: 1\nb: 2\n---\nc: 3\n"],
    ["explicit collection key", "a: 1\n? [1, 2]\n: 3\n"],
    ["flow collection key", "a: 1\n[x, y]: 3\n"],
    ["alias as a key", "a: &k name\n*k : 3\n"],
    ["alias in its own anchor", "a: 1\nb: &x [1, *x]\n"],
    ["alias with no anchor", "a: 1\n\nb: *nope\n"],
    ["a list", "- a\n- b\n"],
    ["a scalar", "just text\n"],
    ["nothing", "# only a comment\n"],
    ["NUL byte", "a: 1\nb: \u0000\n"],
    ["a billion laughs", laughs(9)],
  ])("refuses %s exactly as the precise parser does, line included", async (_what, text) => {
    const fast = await refusal(text);
    const precise = preciseRefusal(text);
    expect({ code: fast.code, message: fast.message }).toEqual({
      code: precise.code,
      message: precise.message,
    });
  });

  it("reads what the precise parser reads, to the same value", async () => {
    const dir = resolve(import.meta.dirname, "../../../examples");
    const files = readdirSync(dir).filter((f) => f.endsWith(".yml"));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const text = readFileSync(join(dir, file), "utf8");
      expect(await parseClipboardYaml(text, file), file).toEqual(parseYamlMapping(text, file).value);
    }
    const scalars = "a: yes\nb: 0o17\nc: 0x1f\nd: ~\ne: 2001-01-01\nf: '007'\ng: .inf\nh: 1e3\n";
    expect(await parseClipboardYaml(scalars, "t.yml")).toEqual(parseYamlMapping(scalars, "t.yml").value);
  });

  it("refuses a duplicate key in a document too big to re-read, naming js-yaml's line", async () => {
    const filler = Array.from({ length: 60_000 }, (_, i) => `k${i}: value number ${i}`).join("\n");
    const err = await refusal(`${filler}\nk7: again\n`);
    expect(err.code).toBe("E_YAML_SYNTAX");
    expect(err.message).toMatch(/^t\.yml:60001: duplicated mapping key/);
  });

  it("refuses one anchor aliased 99 times that expands past the size limit", async () => {
    const text = `big: &big "${"x".repeat(1024 * 1024)}"\ncopies: [${Array.from({ length: 99 }, () => "*big").join(", ")}]\n`;
    const err = await refusal(text, { maxBytes: 64 * 1024 * 1024 });
    expect(err.code).toBe("E_YAML_BOMB");
  });

  it("refuses documents over the size limit and nesting deeper than 256", async () => {
    expect((await refusal(`a: "${"x".repeat(2000)}"\n`, { maxBytes: 1000 })).code).toBe("E_YAML_TOO_LARGE");
    expect((await refusal(`a: ${"[".repeat(300)}${"]".repeat(300)}\n`)).code).toBe("E_YAML_TOO_DEEP");
    expect((await refusal(`a: ${"[".repeat(20000)}${"]".repeat(20000)}\n`)).code).toBe("E_YAML_TOO_DEEP");
  });

  it("keeps a __proto__ key as plain data", async () => {
    const value = await parseClipboardYaml("__proto__:\n  polluted: 1\n", "t.yml");
    expect(Object.hasOwn(value, "__proto__")).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("round-trips dumpYaml, quoting what a YAML 1.1 reader would turn into something else", async () => {
    const shared = { k: [1, 2] };
    const value = { a: shared, b: shared, s: "yes", o: "off", n: "007", d: "2001-01-01", m: "two\nlines\n" };
    const text = dumpYaml(value);
    expect(text).not.toMatch(/[&*]/);
    expect(text).toMatch(/^s: 'yes'$/m);
    expect(text).toMatch(/^d: '2001-01-01'$/m);
    expect(await parseClipboardYaml(text, "t.yml")).toEqual(value);
  });
});
