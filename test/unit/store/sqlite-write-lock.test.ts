import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openSqliteStore } from "../../../src/store/sqlite-store.js";
import { eventually } from "../../helpers/net.js";

const dir = mkdtempSync(join(tmpdir(), "jarvis-lock-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Another process holds the write lock, writes, and commits after a while: what a second `jarvis run`
// on the same store does all the time.
const HOLDER = `
const Database = require("better-sqlite3");
const db = new Database(process.argv[1]);
db.pragma("busy_timeout = 10000");
db.exec("BEGIN IMMEDIATE");
db.exec("CREATE TABLE IF NOT EXISTS lock_probe (x INTEGER)");
db.exec("INSERT INTO lock_probe VALUES (1)");
process.stdout.write("held\\n");
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500);
db.exec("COMMIT");
`;

describe("SQLite store writes beside another process", () => {
  it("waits for the other writer instead of failing with 'database is locked'", async () => {
    const path = join(dir, `shared-${Date.now()}.sqlite`);
    const store = openSqliteStore(path);
    const run = await store.createRun({
      host: "loki",
      pipeline: "p",
      pipelineJson: "{}",
      totalSteps: 1,
      requestedBy: "cli:test",
      origin: "cli",
      source: "loki.yml",
      clipboardYaml: "a: 1\n",
      stepNames: ["ok:a"],
      lease: { owner: "o", leaseMs: 60_000 },
    });
    const holder = spawn(process.execPath, ["-e", HOLDER, path], { cwd: process.cwd() });
    let said = "";
    holder.stdout.on("data", (c: Buffer) => (said += c.toString()));
    holder.stderr.on("data", (c: Buffer) => (said += c.toString()));
    await eventually(
      () => (said.includes("held") ? true : undefined),
      60_000,
      "the other process to hold the lock",
    );
    // A transaction that reads (the lease) and then writes: begun deferred, its read snapshot is
    // stale once the holder commits, and SQLite refuses the upgrade without waiting (SQLITE_BUSY).
    const written = await store.writeStep({ runId: run.id, owner: "o" }, 0, { patch: { state: "running" } });
    expect(written).toBe(true);
    await new Promise((resolve) => holder.once("exit", resolve));
    expect(said).toBe("held\n");
    await store.close();
  });
});
