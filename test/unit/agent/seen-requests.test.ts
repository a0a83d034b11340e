import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SeenRequests } from "../../../src/agent/seen-requests.js";

const dirs: string[] = [];
const stateDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), "jarvis-seen-"));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("seen requests", () => {
  it("are known again after a restart, unfinished ones as such", () => {
    const dir = stateDir();
    const seen = new SeenRequests(dir);
    const expiresAt = Date.now() + 60_000;
    seen.add("req-done", { expiresAt, streamSeq: 1, finished: false }, Date.now());
    seen.add("req-running", { expiresAt, streamSeq: 2, finished: false }, Date.now());
    seen.finish("req-done");
    seen.close();

    const again = new SeenRequests(dir);
    expect(again.get("req-done")).toEqual({ expiresAt, streamSeq: 1, finished: true });
    expect(again.unfinished()).toEqual(["req-running"]);
  });

  it("forget expired ids, and skip a line torn by a crash", () => {
    const dir = stateDir();
    const seen = new SeenRequests(dir);
    seen.add("req-old", { expiresAt: Date.now() - 1000, streamSeq: 1, finished: true }, Date.now() - 2000);
    seen.add("req-new", { expiresAt: Date.now() + 60_000, streamSeq: 2, finished: true }, Date.now());
    seen.close();
    appendFileSync(join(dir, "seen-requests.jsonl"), '{"id":"req-torn","expiresAt":');

    const again = new SeenRequests(dir);
    expect(again.get("req-old")).toBeUndefined();
    expect(again.get("req-new")).toBeDefined();
    expect(again.get("req-torn")).toBeUndefined();
  });

  it("keep the journal near the size of what is live", () => {
    const dir = stateDir();
    const seen = new SeenRequests(dir);
    // Each id expires a minute after it came, as requests keep coming: about 600 stay live.
    const base = Date.now() - 3000 * 100;
    for (let i = 0; i < 3000; i++) {
      const at = base + i * 100;
      seen.add(`req-${i}`, { expiresAt: at + 60_000, streamSeq: i, finished: false }, at);
      seen.finish(`req-${i}`);
    }
    seen.close();
    const lines = readFileSync(join(dir, "seen-requests.jsonl"), "utf8").trimEnd().split("\n").length;
    expect(lines).toBeLessThan(600 + 1000 + 10);
    expect(new SeenRequests(dir).get("req-2999")?.finished).toBe(true);
  });
});
