import { describe, expect, it } from "vitest";
import { compileCondition } from "../../../src/pipeline/condition.js";
import { PipelineError } from "../../../src/errors.js";

const loki = {
  instance: {
    hostname: "loki",
    provider: "linode",
    size: 2,
    tags: ["web", "db"],
    production: false,
    empty: "",
    none: null,
  },
  ssh: { host_keys: ["ssh-ed25519 AAAA"], fingerprints: {} },
  zero: 0,
  list: [],
};

const run = (expr: string, clipboard: Record<string, unknown> = loki): boolean =>
  compileCondition(expr, "p.yml:9: if")(clipboard);

function syntaxError(expr: string): PipelineError {
  try {
    compileCondition(expr, "p.yml:9: steps item 3 if");
  } catch (err) {
    expect(err).toBeInstanceOf(PipelineError);
    return err as PipelineError;
  }
  throw new Error(`'${expr}' compiled, but should have been refused`);
}

describe("compileCondition: values", () => {
  it("a bare path is true when it exists and is truthy", () => {
    expect(run("instance.hostname")).toBe(true);
    expect(run("ssh.host_keys")).toBe(true);
    expect(run("ssh.fingerprints")).toBe(false); // empty mapping
    expect(run("list")).toBe(false); // empty list
    expect(run("instance.empty")).toBe(false);
    expect(run("instance.none")).toBe(false);
    expect(run("zero")).toBe(false);
    expect(run("instance.size")).toBe(true);
    expect(run("instance.production")).toBe(false);
    expect(run("instance.missing.deeper")).toBe(false);
    expect(run("nothing")).toBe(false);
  });

  it("indexes lists with numeric parts", () => {
    expect(run("instance.tags.0 == 'web'")).toBe(true);
    expect(run("instance.tags.1 == 'db'")).toBe(true);
    expect(run("instance.tags.2")).toBe(false);
    expect(run("instance.tags.length")).toBe(false);
  });

  it("reads literals: both quotes, escapes, numbers, true/false/null", () => {
    expect(run(`instance.hostname == "loki"`)).toBe(true);
    expect(run(`instance.hostname == 'loki'`)).toBe(true);
    expect(run(`'it\\'s' == "it's"`)).toBe(true);
    expect(run("instance.size == 2")).toBe(true);
    expect(run("instance.size == 2.0")).toBe(true);
    expect(run("-1 < 0")).toBe(true);
    expect(run("instance.production == false")).toBe(true);
    expect(run("true")).toBe(true);
    expect(run("null")).toBe(false);
  });
});

describe("compileCondition: operators", () => {
  it("compares", () => {
    expect(run("instance.size > 1")).toBe(true);
    expect(run("instance.size >= 2")).toBe(true);
    expect(run("instance.size < 2")).toBe(false);
    expect(run("instance.size <= 1")).toBe(false);
    expect(run("instance.provider != 'ec2'")).toBe(true);
    expect(run("instance.hostname > 'a'")).toBe(true); // strings order as strings
  });

  it("missing paths are null", () => {
    expect(run("instance.missing == null")).toBe(true);
    expect(run("instance.none == null")).toBe(true);
    expect(run("instance.missing != 'x'")).toBe(true);
    expect(run("instance.missing > 1")).toBe(false);
    expect(run("instance.missing < 1")).toBe(false);
  });

  it("never converts types", () => {
    expect(run("instance.size == '2'")).toBe(false);
    expect(run("instance.size != '2'")).toBe(true);
    expect(run("instance.size < '3'")).toBe(false);
    expect(run("instance.size > '1'")).toBe(false);
    expect(run("instance.production == 0")).toBe(false);
    expect(run("instance.empty == false")).toBe(false);
    expect(run("instance.tags == 'web,db'")).toBe(false);
  });

  it("compares lists and mappings by structure", () => {
    expect(run("instance.tags == ['web', 'db']")).toBe(true);
    expect(run("instance.tags == ['db', 'web']")).toBe(false);
    expect(run("instance.tags != ['web']")).toBe(true);
    expect(run("[]")).toBe(false);
    expect(run("[0]")).toBe(true);
  });

  it("in: list literals, lists, mappings and strings", () => {
    expect(run("instance.provider in ['linode', 'ec2']")).toBe(true);
    expect(run("instance.provider in ['local']")).toBe(false);
    expect(run("instance.provider in []")).toBe(false);
    expect(run("instance.size in [1, 2, 3]")).toBe(true);
    expect(run("instance.size in ['2']")).toBe(false);
    expect(run("'db' in instance.tags")).toBe(true);
    expect(run("'mail' in instance.tags")).toBe(false);
    expect(run("'hostname' in instance")).toBe(true);
    expect(run("'oki' in instance.hostname")).toBe(true);
    expect(run("'x' in instance.missing")).toBe(false);
    expect(run("instance.missing in [null]")).toBe(true);
    expect(run("instance.provider in [instance.provider]")).toBe(true);
  });

  it("! binds tighter than comparisons, which bind tighter than && and ||", () => {
    // && before ||: true || (false && false)
    expect(run("instance.hostname || zero && list")).toBe(true);
    expect(run("(instance.hostname || zero) && list")).toBe(false);
    expect(run("zero && list || instance.size")).toBe(true);
    // ! applies to the path, then ==: (!zero) == true
    expect(run("!zero == true")).toBe(true);
    expect(run("!(instance.size == 2)")).toBe(false);
    expect(run("!!instance.hostname")).toBe(true);
    expect(run("!instance.provider in ['linode']")).toBe(false); // (!'linode') in [...] is false in ['linode']
    expect(run("instance.provider == 'linode' && !instance.production")).toBe(true);
    expect(run("instance.provider == 'ec2' || instance.size >= 2 && 'web' in instance.tags")).toBe(true);
  });

  it("&& and || short-circuit on truthiness", () => {
    expect(run("nothing && nothing.deeper == 1")).toBe(false);
    expect(run("instance.hostname || nothing")).toBe(true);
  });
});

describe("compileCondition: safety", () => {
  it("paths read only own keys: prototypes are never reached", () => {
    for (const expr of [
      "constructor",
      "__proto__",
      "instance.constructor",
      "instance.__proto__",
      "instance.hostname.constructor",
      "instance.hostname.length",
      "instance.tags.constructor",
      "instance.toString",
      "hasOwnProperty",
      "constructor.constructor",
      "__proto__.polluted",
    ]) {
      expect(run(expr), expr).toBe(false);
      expect(run(`${expr} == null`), expr).toBe(true);
    }
    expect(run("'constructor' in instance")).toBe(false);
    expect(run("'toString' in instance")).toBe(false);
  });

  it("an own key named like a prototype property is read as data", () => {
    const clipboard = JSON.parse('{"__proto__": {"x": 1}, "constructor": "c"}') as Record<string, unknown>;
    expect(run("__proto__.x == 1", clipboard)).toBe(true);
    expect(run("constructor == 'c'", clipboard)).toBe(true);
  });

  it("code is never executed: calls and assignments are syntax errors", () => {
    const g = globalThis as Record<string, unknown>;
    delete g.jarvisPwned;
    for (const expr of [
      "process.exit(1)",
      "globalThis.jarvisPwned = 1",
      "(() => 1)()",
      "require('fs')",
      "`x`",
      "a; b",
      "a + b",
    ]) {
      expect(syntaxError(expr).code).toBe("E_PIPELINE_CONDITION");
    }
    expect(g.jarvisPwned).toBeUndefined();
  });

  it("never mutates the clipboard", () => {
    const clipboard = structuredClone(loki);
    run("instance.provider in ['linode'] && !instance.production && ssh.host_keys", clipboard);
    expect(clipboard).toEqual(loki);
  });
});

describe("compileCondition: syntax errors name the position", () => {
  it.each([
    ["instance.provider = 'linode'", 19, /'='.*'=='/],
    ["a && ", 6, /expected a value.*found the end of the expression/],
    ["(a || b", 8, /expected '\)'.*found the end/],
    ["a b", 3, /expected '&&', '\|\|' or the end.*found 'b'/],
    ["'open", 1, /never closed/],
    ["a == 1 == 2", 8, /do not chain/],
    ["a in 'x'", 6, /list like \['a', 'b'\] or a path after 'in'/],
    ["a in [1, 2", 11, /expected ',' or '\]'/],
    ["a & b", 3, /'&&'/],
    ["a.", 2, /path cannot end with '\.'/],
    ["a..b", 2, /path cannot end with '\.'/],
    ["", 1, /empty/],
    ["in ['x']", 1, /'in' needs a value on its left/],
    [")", 1, /expected a value/],
  ])("%j at column %d", (expr, col, reason) => {
    const err = syntaxError(expr);
    expect(
      err.message.startsWith(`p.yml:9: steps item 3 if: bad condition "${expr}" at column ${col}: `),
    ).toBe(true);
    expect(err.message).toMatch(reason);
  });
});

describe("condition limits (a hostile pipeline cannot blow the stack)", () => {
  const refused = (expr: string): PipelineError => {
    try {
      compileCondition(expr, "p.yml:3: steps item 1 if");
    } catch (err) {
      expect(err).toBeInstanceOf(PipelineError);
      expect((err as PipelineError).code).toBe("E_PIPELINE_CONDITION");
      return err as PipelineError;
    }
    throw new Error("the condition was accepted");
  };

  it("refuses an expression nested 100,000 deep and a 1 MB run of '!' with a clear error", () => {
    const deep = `${"(".repeat(100_000)}true${")".repeat(100_000)}`;
    expect(refused(deep).message).toMatch(/over the limit of 4096/);
    expect(refused("!".repeat(1024 * 1024)).message).toMatch(
      /1048576 characters long, over the limit of 4096/,
    );
  });

  it("refuses nesting deeper than 64 levels within the length limit, in every nesting form", () => {
    for (const expr of [
      `${"!".repeat(65)}true`,
      `${"(".repeat(65)}true${")".repeat(65)}`,
      `${"[".repeat(65)}${"]".repeat(65)}`,
      `${"!(".repeat(40)}true${")".repeat(40)}`,
    ]) {
      expect(refused(expr).message, expr.slice(0, 10)).toMatch(/nested more than 64 levels deep/);
    }
    // The error quotes the expression cut short, not all of it.
    expect(refused(`${"!".repeat(65)}true`).message.length).toBeLessThan(300);
  });

  it("accepts nesting up to the limit and long flat chains", () => {
    expect(run(`${"!".repeat(64)}true`)).toBe(true);
    expect(run(`${"(".repeat(64)}true${")".repeat(64)}`)).toBe(true);
    expect(run(Array.from({ length: 300 }, () => "zero == 0").join(" && "))).toBe(true);
  });
});
