import { describe, expect, it } from "vitest";
import { MAX_SELECTOR_DEPTH, parseSelector } from "../../../src/inventory/selector-parser.js";
import { globMatch, matchesSelector } from "../../../src/inventory/selector-match.js";
import { fixedNodeDirectory, selectNodes } from "../../../src/inventory/select-nodes.js";
import type { NodeView } from "../../../src/inventory/node-view.js";
import { SelectorError } from "../../../src/errors.js";

function node(host: string, groups: string[], facts: NodeView["facts"], online = true): NodeView {
  return { host, groups, online, lastSeen: null, agentVersion: "1.0.0", facts };
}

const NODES: NodeView[] = [
  node("web-01", ["web"], {
    hostname: "web-01",
    os: { family: "debian", release: "12" },
    memory: { mb: 4096 },
    packages: { apache2: "2.4.49-1", "python3.11": "3.11.2-6" },
    datacenter: "atlanta",
    ipaddresses: ["10.0.0.1", "192.168.1.1"],
  }),
  node("web-02", ["web"], {
    hostname: "web-02",
    os: { family: "debian", release: "12" },
    memory: { mb: 1024 },
    packages: { apache2: "2.4.50~rc1-1" },
    datacenter: "newark",
  }),
  node("web-03", ["web", "canary"], {
    hostname: "web-03",
    os: { family: "debian", release: "12" },
    memory: { mb: 2048 },
    packages: { apache2: "1:2.4.10-1" },
  }),
  node(
    "db-01",
    ["db"],
    { hostname: "db-01", os: { family: "redhat", release: "9" }, memory: { mb: 16384 }, packages: {} },
    false,
  ),
  node("bare", [], {}),
];

async function hosts(selector: string): Promise<string[]> {
  return (await selectNodes(fixedNodeDirectory(NODES), selector)).map((n) => n.host);
}

describe("selectors over nodes", () => {
  it.each([
    ["os.family=debian and packages.apache2<2.4.50", ["web-01", "web-02"]],
    ["group=web", ["web-01", "web-02", "web-03"]],
    ["group=canary", ["web-03"]],
    ["hostname=web-*", ["web-01", "web-02", "web-03"]],
    ["hostname=web-0?", ["web-01", "web-02", "web-03"]],
    ['hostname="web-*"', []],
    ["memory.mb>=2048", ["db-01", "web-01", "web-03"]],
    ["memory.mb<2048", ["web-02"]],
    ["memory.mb=4096", ["web-01"]],
    ["memory.mb!=4096", ["db-01", "web-02", "web-03"]],
    ["not datacenter=atlanta", ["bare", "db-01", "web-02", "web-03"]],
    ["datacenter!=atlanta", ["web-02"]],
    ["packages.apache2>=2.4.50~rc1", ["web-02", "web-03"]],
    ["packages.apache2>2.4.50", ["web-03"]],
    ["packages.python3.11>=3.11", ["web-01"]],
    ["ipaddresses=192.168.*", ["web-01"]],
    ["group=db or (group=web and memory.mb>2048)", ["db-01", "web-01"]],
    ["not (group=web or group=db)", ["bare"]],
    ["not not group=db", ["db-01"]],
    ["online=false", ["db-01"]],
    ["host=db-01", ["db-01"]],
    ["os.release>=10", ["web-01", "web-02", "web-03"]],
    ["os=debian", []],
    ["GROUP=web AND NOT hostname=web-01", []],
    ["group=web AND NOT hostname=web-01", ["web-02", "web-03"]],
    // A bare host name or glob is the node's name; hosts side by side are a list.
    ["web-*", ["web-01", "web-02", "web-03"]],
    ["web-01 db-*", ["db-01", "web-01"]],
    ["web-0? and not web-02", ["web-01", "web-03"]],
    ["web-* and memory.mb>=2048 or bare", ["bare", "web-01", "web-03"]],
    ["hostname", []],
  ])("%s", async (selector, expected) => {
    expect(await hosts(selector)).toEqual(expected);
  });

  it("binds 'and' tighter than 'or'", () => {
    const web01 = NODES[0]!;
    expect(matchesSelector(web01, parseSelector("group=db and memory.mb>1 or hostname=web-01"))).toBe(true);
    expect(matchesSelector(web01, parseSelector("group=db and (memory.mb>1 or hostname=web-01)"))).toBe(
      false,
    );
  });

  it("does not order a fact that is no Debian version, nor a number against a word", async () => {
    const odd = fixedNodeDirectory([node("odd", [], { release: "a:b", cpus: 4, flag: true })]);
    expect(await selectNodes(odd, "release<2")).toEqual([]);
    expect(await selectNodes(odd, "release>2")).toEqual([]);
    expect(await selectNodes(odd, "cpus>1.5")).toHaveLength(1);
    expect(await selectNodes(odd, "cpus<abc")).toEqual([]);
    expect(await selectNodes(odd, "flag=true")).toHaveLength(1);
    expect(await selectNodes(odd, "flag>1")).toEqual([]);
  });
});

describe("selector errors", () => {
  it.each([
    ["memory.mb>=", "selector: expected a value after '>=' at column 12"],
    [
      "os.family=debian and",
      "selector: expected a host, a fact or 'group' (as in web-*, os.family=debian), found the end at column 21",
    ],
    ["memory.mb>= and x=1", "at column 13"],
    ["(group=web", "expected ')' to close the '(' at column 1, found the end at column 11"],
    ["group=web)", "expected 'and', 'or' or the end, found ')' at column 10"],
    ["group web", "expected an operator (= != < <= > >=) after 'group', found 'web' at column 7"],
    ["group!web", "'!' must be followed by '=' (or write 'not') at column 6"],
    ['hostname="web', "unterminated quoted value at column 10"],
    ["packages.apache2<a:1", "'a:1' after '<' is neither a number nor a Debian version"],
    ["os..family=x", "'os..family' is not a fact path"],
    ["=x", "found '=' at column 1"],
    ["web-1 group=web", "expected 'and', 'or' or the end, found 'group' at column 7"],
    ["web-1 a/b", "'a/b' is neither a host name or glob"],
    ["online", "expected an operator (= != < <= > >=) after 'online', found the end"],
  ])("%s", (text, message) => {
    expect(() => parseSelector(text)).toThrow(SelectorError);
    expect(() => parseSelector(text)).toThrow(message);
  });

  it("names the column in the error's data", () => {
    try {
      parseSelector("group=web and memory.mb>=");
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(SelectorError);
      expect((error as SelectorError).column).toBe(26);
      expect((error as SelectorError).code).toBe("E_SELECTOR_SYNTAX");
    }
  });

  it("bounds length and depth", () => {
    expect(() => parseSelector(`group=${"x".repeat(2000)}`)).toThrow(/too long/);
    const deep = `${"(".repeat(MAX_SELECTOR_DEPTH + 1)}group=web${")".repeat(MAX_SELECTOR_DEPTH + 1)}`;
    expect(() => parseSelector(deep)).toThrow(/nested deeper than 32 levels at column 33/);
    expect(() => parseSelector(`${"not ".repeat(MAX_SELECTOR_DEPTH + 1)}group=web`)).toThrow(/nested deeper/);
    const ok = `${"(".repeat(MAX_SELECTOR_DEPTH)}group=web${")".repeat(MAX_SELECTOR_DEPTH)}`;
    expect(() => parseSelector(ok)).not.toThrow();
  });

  it("reads quoted values with escapes, keywords included", () => {
    expect(parseSelector('role="and \\"x\\""')).toEqual({
      kind: "compare",
      field: { kind: "fact", path: ["role"] },
      op: "=",
      value: { text: 'and "x"', quoted: true, number: undefined },
      column: 1,
    });
  });
});

describe("host lists", () => {
  it("reads bare words side by side as one list, with their columns", () => {
    expect(parseSelector("web-* db-1")).toEqual({
      kind: "hosts",
      patterns: [
        { text: "web-*", column: 1 },
        { text: "db-1", column: 7 },
      ],
    });
  });
});

describe("globs", () => {
  it.each([
    ["web-*", "web-01", true],
    ["web-*", "db-01", false],
    ["*", "", true],
    ["?", "", false],
    ["a*b*c", "aXXbYYc", true],
    ["a*b*c", "aXXbYY", false],
    ["*.example.test", "web.example.test", true],
  ])("%s ~ %s is %s", (pattern, text, expected) => {
    expect(globMatch(pattern, text)).toBe(expected);
  });

  it("stays linear on a hostile pattern", () => {
    expect(globMatch(`${"a*".repeat(500)}b`, "a".repeat(1000))).toBe(false);
  });
});
