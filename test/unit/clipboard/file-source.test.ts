/**
 * Chat and API users may only have files inside designs.dirs read as designs: `..`, absolute
 * paths elsewhere, symlinks that point out and sibling dirs sharing a name prefix are refused
 * (E_SOURCE_FORBIDDEN) without the file being read; the CLI's "any" still reads any path.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FileSource } from "../../../src/clipboard/sources/file-source.js";
import { JarvisError } from "../../../src/errors.js";

let root: string;
let designs: string;
let source: FileSource;
const signal = (): AbortSignal => new AbortController().signal;
const SECRET = "CANARY-outside-designs";

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "jarvis-dirs-"));
  designs = join(root, "designs");
  mkdirSync(join(designs, "team"), { recursive: true });
  mkdirSync(join(root, "designs-old"));
  writeFileSync(join(designs, "loki.yml"), "instance:\n  hostname: loki\n");
  writeFileSync(join(designs, "team", "thor.yml"), "instance:\n  hostname: thor\n");
  writeFileSync(join(root, "secret.yml"), `password: ${SECRET}\n`);
  writeFileSync(join(root, "designs-old", "odin.yml"), `password: ${SECRET}\n`);
  symlinkSync(join(root, "secret.yml"), join(designs, "escape.yml"));
  symlinkSync("/etc", join(designs, "etc"));
  symlinkSync(join(designs, "loki.yml"), join(designs, "alias.yml"));
  symlinkSync(join(designs, "loop2.yml"), join(designs, "loop1.yml"));
  symlinkSync(join(designs, "loop1.yml"), join(designs, "loop2.yml"));
  source = new FileSource({ designsDirs: [designs], baseDir: root, maxBytes: 1000 });
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

async function refusal(ref: string): Promise<JarvisError> {
  const err = await source.fetch(ref, signal(), "designs-dirs").then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, ref).toBeInstanceOf(JarvisError);
  expect((err as Error).message).not.toContain(SECRET);
  return err as JarvisError;
}

describe("FileSource for chat (designs-dirs)", () => {
  it("reads designs inside the dirs: by name, by sub-path, by absolute path, through a symlink inside", async () => {
    for (const ref of [
      "loki.yml",
      "team/thor.yml",
      join(designs, "loki.yml"),
      "alias.yml",
      "designs/loki.yml",
    ]) {
      const got = await source.fetch(ref, signal(), "designs-dirs");
      expect(got.text.toString(), ref).toMatch(/^instance:/);
      expect(got.origin).toBe(ref);
    }
  });

  it("refuses, without reading, paths outside the dirs however they are spelled", async () => {
    const outside = [
      "/etc/shadow",
      "/etc/passwd",
      join(root, "secret.yml"),
      "../secret.yml",
      "team/../../secret.yml",
      `${designs}/../secret.yml`,
      // A sibling whose name starts like the designs dir is not inside it.
      join(root, "designs-old", "odin.yml"),
      "../designs-old/odin.yml",
      // Symlinks inside designs/ that point out.
      "escape.yml",
      "etc/passwd",
      "etc/shadow",
      "a\0b",
    ];
    for (const ref of outside) {
      const err = await refusal(ref);
      expect(err.code, ref).toBe("E_SOURCE_FORBIDDEN");
      expect(err.message).toMatch(/is not inside the designs directories/);
    }
  });

  it("says plainly when a file inside the dirs is missing, a directory or a symlink loop", async () => {
    expect((await refusal("nope.yml")).code).toBe("E_SOURCE_NOT_FOUND");
    expect((await refusal("team")).code).toBe("E_SOURCE_NOT_A_FILE");
    const loop = await refusal("loop1.yml");
    expect(loop.code).toBe("E_SOURCE_UNREADABLE");
    expect(loop.message).toMatch(/symbolic link that loops/);
  });

  it("is what a fetch without a fileAccess gets", async () => {
    await expect(source.fetch("../secret.yml", signal())).rejects.toMatchObject({
      code: "E_SOURCE_FORBIDDEN",
    });
  });

  it("still reads any path for the CLI's local operator", async () => {
    const got = await source.fetch(relative(root, join(root, "secret.yml")), signal(), "any");
    expect(got.text.toString()).toContain(SECRET);
  });

  it("finds nothing in a designs dir that does not exist, and still refuses the rest", async () => {
    const none = new FileSource({ designsDirs: [join(root, "missing")], baseDir: root });
    await expect(none.fetch("loki.yml", signal(), "designs-dirs")).rejects.toMatchObject({
      code: "E_SOURCE_NOT_FOUND",
    });
    await expect(none.fetch(join(root, "secret.yml"), signal(), "designs-dirs")).rejects.toMatchObject({
      code: "E_SOURCE_FORBIDDEN",
    });
  });
});
