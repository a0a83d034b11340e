import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { eventually } from "../../helpers/net.js";
import { watchPaths } from "../../../src/agent/watch.js";
import type { Watching } from "../../../src/agent/watch.js";

let watching: Watching | undefined;
afterEach(() => watching?.close());

/** Watch `paths`; every settled burst lands in the returned list. */
function watchInto(paths: string[]): string[][] {
  const bursts: string[][] = [];
  watching = watchPaths(paths, { settleMs: 200, onChange: (p) => bursts.push(p), log: () => undefined });
  return bursts;
}

const burstWith = (bursts: string[][], path: string) =>
  eventually(() => (bursts.some((b) => b.includes(path)) ? true : undefined), 30_000, `a burst with ${path}`);

describe("watch", () => {
  it("settles a burst of writes into one change per file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "jarvis-watch-"));
    const bursts = watchInto([dir]);
    const conf = join(dir, "nginx.conf");
    for (let i = 0; i < 50; i++) writeFileSync(conf, `line ${i}\n`);
    await burstWith(bursts, conf);
    // A later write after the burst: the bursts before it are exactly the one for the first file.
    mkdirSync(join(dir, "sites"));
    const site = join(dir, "sites", "default");
    writeFileSync(site, "x\n");
    await burstWith(bursts, site);
    expect(bursts[0]).toEqual([conf]);
    expect(bursts.flat().filter((p) => p === conf)).toHaveLength(1);
  });

  it("watches a folder again when it disappears and comes back", async () => {
    const parent = mkdtempSync(join(tmpdir(), "jarvis-watch-"));
    const dir = join(parent, "nginx");
    mkdirSync(dir);
    const bursts = watchInto([dir]);
    rmSync(dir, { recursive: true });
    mkdirSync(dir);
    await burstWith(bursts, dir);
    const conf = join(dir, "nginx.conf");
    writeFileSync(conf, "back\n");
    await burstWith(bursts, conf);
  });

  it("follows a watched file that an editor replaces by renaming a new one over it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "jarvis-watch-"));
    const file = join(dir, "app.conf");
    writeFileSync(file, "one\n");
    const bursts = watchInto([file]);
    writeFileSync(join(dir, "app.conf.tmp"), "two\n");
    renameSync(join(dir, "app.conf.tmp"), file);
    await burstWith(bursts, file);
    const seen = bursts.length;
    writeFileSync(file, "three\n");
    await eventually(() => (bursts.length > seen ? true : undefined), 30_000, "a change after the rename");
  });

  it("starts watching a path that does not exist yet once it appears", async () => {
    const dir = join(mkdtempSync(join(tmpdir(), "jarvis-watch-")), "later");
    const bursts = watchInto([dir]);
    mkdirSync(dir);
    await burstWith(bursts, dir);
  });
});
