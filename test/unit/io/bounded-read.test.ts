/**
 * The one reader for files people name: devices, FIFOs, directories, missing files and symlink
 * loops are refused with typed errors before anything is read (a FIFO is never even opened,
 * which would block), and no more than the limit plus one chunk is ever read.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileBounded, readFileBoundedSync } from "../../../src/io/bounded-read.js";
import { SourceError } from "../../../src/errors.js";

let dir: string;
const limits = { maxBytes: 1000, what: "design file" };

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "jarvis-read-"));
  writeFileSync(join(dir, "ok.yml"), "a: 1\n");
  writeFileSync(join(dir, "big.yml"), "a".repeat(1001));
  mkdirSync(join(dir, "folder"));
  execFileSync("mkfifo", [join(dir, "fifo")]);
  symlinkSync(join(dir, "loop-a"), join(dir, "loop-b"));
  symlinkSync(join(dir, "loop-b"), join(dir, "loop-a"));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const readers = [
  ["async", (path: string) => readFileBounded(path, limits)],
  ["sync", async (path: string) => readFileBoundedSync(path, limits)],
] as const;

describe.each(readers)("readFileBounded (%s)", (name, read) => {
  async function refusal(path: string): Promise<SourceError> {
    const err = await read(path).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err, path).toBeInstanceOf(SourceError);
    return err as SourceError;
  }

  it("reads a regular file", async () => {
    expect((await read(join(dir, "ok.yml"))).toString()).toBe("a: 1\n");
  });

  it("refuses devices, a FIFO, a directory, a missing file, a symlink loop and a file over the limit", async () => {
    const cases: [string, string, RegExp][] = [
      ["/dev/zero", "E_SOURCE_NOT_A_FILE", /^\/dev\/zero is not a regular file/],
      ["/dev/urandom", "E_SOURCE_NOT_A_FILE", /^\/dev\/urandom is not a regular file/],
      [join(dir, "fifo"), "E_SOURCE_NOT_A_FILE", /fifo is not a regular file \(a device, socket or pipe\)/],
      [join(dir, "folder"), "E_SOURCE_NOT_A_FILE", /folder is a directory; name the design file in it/],
      [
        join(dir, "nope.yml"),
        "E_SOURCE_NOT_FOUND",
        /^design file .*nope\.yml does not exist; check the path$/,
      ],
      [join(dir, "ok.yml", "x"), "E_SOURCE_NOT_FOUND", /does not exist/],
      [join(dir, "loop-a"), "E_SOURCE_UNREADABLE", /loop-a is a symbolic link that loops/],
      [
        join(dir, "big.yml"),
        "E_SOURCE_TOO_LARGE",
        /big\.yml is 1001 bytes, over the design file size limit of 1000/,
      ],
      ["bad\0path", "E_SOURCE_UNREADABLE", /^design file bad/],
    ];
    for (const [path, code, message] of cases) {
      const err = await refusal(path);
      expect(err.code, path).toBe(code);
      expect(err.message, path).toMatch(message);
    }
  });

  it("refuses a symlink where none is allowed (a path already resolved by realpath)", async () => {
    const link = join(dir, `link-${name}`);
    symlinkSync(join(dir, "ok.yml"), link);
    await expect(read(link)).resolves.toBeInstanceOf(Buffer);
    const noFollow =
      name === "async"
        ? readFileBounded(link, { ...limits, noFollow: true })
        : (async () => readFileBoundedSync(link, { ...limits, noFollow: true }))();
    await expect(noFollow).rejects.toMatchObject({ code: "E_SOURCE_UNREADABLE" });
  });
});
