import { describe, expect, it } from "vitest";
import { diffClipboards, formatDiff } from "../../../src/clipboard/diff.js";
import { createRedactor } from "../../../src/clipboard/redact.js";
import { DEFAULT_REDACT_KEYS } from "../../../src/config.js";

const redactor = createRedactor({ keys: DEFAULT_REDACT_KEYS, secrets: ["Zm9vYmFyYmF6"] });

describe("diffClipboards", () => {
  it("reports added, changed and removed values at the deepest path, sorted", () => {
    const before = {
      instance: { hostname: "loki", ip: "10.0.0.1", tags: ["a", "b", "c"] },
      dns: { records: [{ name: "loki", type: "A" }] },
      old: { gone: true },
    };
    const after = {
      instance: { hostname: "loki", ip: "10.0.0.2", tags: ["a", "x"] },
      dns: {
        records: [
          { name: "loki", type: "AAAA" },
          { name: "loki", type: "SSHFP" },
        ],
      },
      linode: { id: 123 },
    };
    expect(diffClipboards(before, after)).toEqual([
      { path: "dns.records[0].type", kind: "changed", before: "A", after: "AAAA" },
      { path: "dns.records[1]", kind: "added", after: { name: "loki", type: "SSHFP" } },
      { path: "instance.ip", kind: "changed", before: "10.0.0.1", after: "10.0.0.2" },
      { path: "instance.tags[1]", kind: "changed", before: "b", after: "x" },
      { path: "instance.tags[2]", kind: "removed", before: "c" },
      { path: "linode", kind: "added", after: { id: 123 } },
      { path: "old", kind: "removed", before: { gone: true } },
    ]);
  });

  it("sorts list indices as numbers and treats a type change as one change", () => {
    const before = { l: Array.from({ length: 11 }, () => 0), v: { a: 1 } };
    const after = { l: Array.from({ length: 11 }, (_x, i) => (i === 2 || i === 10 ? 1 : 0)), v: [1] };
    expect(diffClipboards(before, after).map((e) => e.path)).toEqual(["l[2]", "l[10]", "v"]);
  });

  it("finds nothing between equal clipboards and treats a missing one as empty", () => {
    expect(diffClipboards({ a: [1, { b: null }] }, { a: [1, { b: null }] })).toEqual([]);
    expect(diffClipboards(undefined, { a: 1 })).toEqual([{ path: "a", kind: "added", after: 1 }]);
  });

  it("quotes keys that are not plain words", () => {
    expect(diffClipboards({}, { "a.b": { "c d": 1 } })).toEqual([
      { path: '["a.b"]', kind: "added", after: { "c d": 1 } },
    ]);
  });
});

describe("formatDiff", () => {
  it("writes one line per entry with compact values", () => {
    const text = formatDiff(
      diffClipboards(
        { instance: { ip: "10.0.0.1" }, dns: { records: [{ name: "loki", type: "A" }] } },
        { instance: { ip: "10.0.0.2" }, dns: { records: [] }, linode: { id: 123 } },
      ),
      redactor,
    );
    expect(text).toBe(
      [
        '- dns.records[0]: {"name":"loki","type":"A"}',
        "~ instance.ip: 10.0.0.1 -> 10.0.0.2",
        '+ linode: {"id":123}',
      ].join("\n"),
    );
  });

  it("hides secrets: under secret keys anywhere up the path, inside values, and known secret values", () => {
    const text = formatDiff(
      diffClipboards(
        { instance: { root_password: "old-pass" }, creds: {} },
        {
          instance: { root_password: "new-pass" },
          creds: { token: { value: "abc", expires: 5 } },
          linode: { root_password: "x1y2z3", note: "tsig Zm9vYmFyYmF6" },
          secrets: ["one", "two"],
        },
      ),
      redactor,
    );
    expect(text).toBe(
      [
        "+ creds.token: ***",
        "~ instance.root_password: *** -> ***",
        '+ linode: {"root_password":"***","note":"tsig ***"}',
        "+ secrets: ***",
      ].join("\n"),
    );
    for (const secret of ["old-pass", "new-pass", "x1y2z3", "Zm9vYmFyYmF6", "one"])
      expect(text).not.toContain(secret);
  });

  it("hides values of list items under a secret key", () => {
    const text = formatDiff(diffClipboards({ tokens: ["aaaa"] }, { tokens: ["bbbb"] }), redactor);
    expect(text).toBe("~ tokens[0]: *** -> ***");
  });

  it("says so when nothing changed, and cuts long values", () => {
    expect(formatDiff([], redactor)).toBe("no changes");
    const line = formatDiff(diffClipboards({}, { big: "x ".repeat(500) }), redactor);
    expect(line.length).toBeLessThan(300);
    expect(line).toMatch(/\.\.\. \(1002 characters\)$/);
  });
});
