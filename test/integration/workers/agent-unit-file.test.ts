/** The systemd unit agent:install writes, checked by systemd's own verifier (systemd-analyze verify). */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { SYSTEMD_UNIT, systemdUnitText } from "../../../src/workers/agent-layout.js";

const run = promisify(execFile);

describe("jarvis-agent.service", () => {
  it("passes systemd-analyze verify without a warning", async () => {
    const dir = mkdtempSync(join(tmpdir(), "jarvis-unit-"));
    try {
      const file = join(dir, SYSTEMD_UNIT);
      writeFileSync(file, systemdUnitText(process.execPath));
      const { stdout, stderr } = await run("systemd-analyze", ["verify", file]);
      expect(stdout + stderr).toBe("");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
