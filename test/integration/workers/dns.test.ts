import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { startBind9 } from "../servers/bind9.js";
import type { Bind9Server } from "../servers/bind9.js";
import { freePort } from "../../helpers/net.js";
import { runStep } from "./run-step.js";

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "jarvis-dns-"));
let named: Bind9Server;
let hostKey: string;
let clipboard: Record<string, unknown>;

const params = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  server: "127.0.0.1",
  port: named.port,
  zone: named.zone,
  key_name: named.keyName,
  ...extra,
});

describe("dns:update_host against a real named with a TSIG-protected zone", () => {
  beforeAll(async () => {
    named = await startBind9();
    await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "hostkey")]);
    await run("ssh-keygen", ["-q", "-t", "ecdsa", "-N", "", "-f", join(dir, "hostkey2")]);
    hostKey = readFileSync(join(dir, "hostkey.pub"), "utf8").split(" ").slice(0, 2).join(" ");
    const hostKey2 = readFileSync(join(dir, "hostkey2.pub"), "utf8").split(" ").slice(0, 2).join(" ");
    clipboard = {
      instance: { hostname: "loki", fqdn: "loki.example.test", provider: "local" },
      local: { id: "local-loki", label: "loki", state: "running", ipv4: "127.0.0.7", ssh_port: 2222 },
      ssh: { host_keys: [hostKey, hostKey2] },
    };
  });
  afterAll(async () => {
    await named?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("writes the A and SSHFP records (as ssh-keygen -r computes them) and converges on a re-run", async () => {
    const env = { DNS_TSIG_SECRET: named.secret };
    const r = await runStep("workers/dns", "update_host", clipboard, { cwd: dir, params: params(), env });
    expect(r.code, r.stderr).toBe(0);
    expect((r.clipboard!.dns as Record<string, unknown>).name).toBe("loki.example.test");
    expect(await named.dig("loki.example.test", "A")).toEqual(["127.0.0.7"]);
    // ssh-keygen -r reads one key per file.
    const expected: string[] = [];
    for (const file of ["hostkey.pub", "hostkey2.pub"]) {
      const out = (await run("ssh-keygen", ["-r", "loki.example.test", "-f", join(dir, file)])).stdout;
      expected.push(
        ...out
          .trim()
          .split("\n")
          .map((l) => l.split(" SSHFP ")[1]!.toUpperCase()),
      );
    }
    expected.sort();
    const digSshfp = async (): Promise<string[]> =>
      (await named.dig("loki.example.test", "SSHFP"))
        .map((l) => l.replace(/(\S+ \S+ )(.*)/, (_m, a: string, b: string) => a + b.replace(/ /g, "")))
        .sort();
    expect(await digSshfp()).toEqual(expected);
    // Re-running with a new address replaces the records instead of adding to them.
    const moved = { ...clipboard, local: { ...(clipboard.local as object), ipv4: "127.0.0.8" } };
    const again = await runStep("workers/dns", "update_host", moved, {
      cwd: dir,
      params: params({ transport: "tcp" }),
      env,
    });
    expect(again.code, again.stderr).toBe(0);
    expect(await named.dig("loki.example.test", "A")).toEqual(["127.0.0.8"]);
    expect(await digSshfp()).toEqual(expected);
  });

  it("names a wrong secret (BADSIG) and an unknown key (BADKEY), not retryable", async () => {
    const wrong = await runStep("workers/dns", "update_host", clipboard, {
      cwd: dir,
      params: params(),
      env: { DNS_TSIG_SECRET: Buffer.alloc(32, 7).toString("base64") },
    });
    expect(wrong.code).toBe(1);
    expect(wrong.lastLine).toMatch(/BADSIG/);
    const unknown = await runStep("workers/dns", "update_host", clipboard, {
      cwd: dir,
      params: params({ key_name: "nobody" }),
      env: { DNS_TSIG_SECRET: named.secret },
    });
    expect(unknown.code).toBe(1);
    expect(unknown.lastLine).toMatch(/BADKEY/);
    expect(wrong.stderr + unknown.stderr).not.toContain(named.secret);
  });

  it("is retryable when the server is down (UDP and TCP)", async () => {
    const port = await freePort();
    for (const transport of ["udp", "tcp"]) {
      const r = await runStep("workers/dns", "update_host", clipboard, {
        cwd: dir,
        params: params({ port, transport, timeout: 2 }),
        env: { DNS_TSIG_SECRET: named.secret },
      });
      expect(r.code).toBe(75);
      expect(r.lastLine).toMatch(new RegExp(`127\\.0\\.0\\.1:${port} \\(${transport}\\) did not answer`));
    }
  });

  it("skips when not configured, and refuses half a configuration, a secret in params, bad input", async () => {
    const skip = await runStep("workers/dns", "update_host", clipboard, { cwd: dir });
    expect(skip.code).toBe(0);
    expect(skip.clipboard).toBeUndefined();
    expect(skip.lastLine).toMatch(/dns: not configured/);
    const half = await runStep("workers/dns", "update_host", clipboard, {
      cwd: dir,
      params: { server: "127.0.0.1" },
    });
    expect(half.lastLine).toMatch(/modules\.dns\.with\.zone must be set/);
    const leaky = await runStep("workers/dns", "update_host", clipboard, {
      cwd: dir,
      params: params({ secret: "x" }),
    });
    expect(leaky.lastLine).toMatch(/must not be a parameter/);
    const noSecret = await runStep("workers/dns", "update_host", clipboard, { cwd: dir, params: params() });
    expect(noSecret.lastLine).toMatch(/DNS_TSIG_SECRET is not set/);
    const noHost = await runStep(
      "workers/dns",
      "update_host",
      { instance: { hostname: "loki" } },
      { cwd: dir, params: params(), env: { DNS_TSIG_SECRET: named.secret } },
    );
    expect(noHost.code).toBe(1);
    expect(noHost.lastLine).toMatch(/clipboard field local is missing/);
    const outside = await runStep(
      "workers/dns",
      "update_host",
      { ...clipboard, instance: { hostname: "loki", fqdn: "loki.other.test" } },
      { cwd: dir, params: params(), env: { DNS_TSIG_SECRET: named.secret } },
    );
    expect(outside.lastLine).toMatch(/not inside zone example\.test/);
  });
});
