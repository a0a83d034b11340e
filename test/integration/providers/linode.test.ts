// The linode step module, compiled and spawned like the engine does, against a local server
// speaking the Linode API v4 wire format, reached by the real @linode/api-v4 SDK.
// Needs `npx tsc -p .` first (npm test builds).
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startLinodeApi } from "../servers/linode-api.js";
import type { LinodeApi } from "../servers/linode-api.js";
import { runStep } from "./spawn-step.js";

const TOKEN = "lin-secret-token-4f9a2c";
let api: LinodeApi;

const design = (hostname = "loki", extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  instance: {
    hostname,
    provider: "linode",
    size: 1024,
    datacenter: "us-east",
    guestid: "debian-12",
    sshpubkey: "ssh-ed25519 AAAAC3Nza test@jarvis",
    tags: ["web"],
    ...extra,
  },
});
const params = (): Record<string, unknown> => ({
  api_url: api.url,
  poll_ms: 10,
  poll_max_ms: 40,
  wait_timeout_s: 30,
  retry_base_ms: 10,
  retry_max_ms: 50,
  api_attempts: 4,
});
const env = { LINODE_TOKEN: TOKEN };
const section = (c: Record<string, unknown>): Record<string, unknown> => c.linode as Record<string, unknown>;

beforeEach(async () => {
  api = await startLinodeApi({ token: TOKEN, retryAfterSeconds: 0 });
});
afterEach(async () => {
  await api.close();
});

describe("linode step against the Linode API v4 server", () => {
  it("creates a Linode, waits until it runs and writes its address and a generated root password", async () => {
    const r = await runStep("linode", "deploy", design(), params(), env);
    expect(r.code, r.stderr).toBe(0);
    const s = section(r.clipboard);
    expect(s.state).toBe("running");
    expect(s.label).toBe("loki");
    expect(s.ipv4).toMatch(/^203\.0\.113\.\d+$/);
    expect(s.ipv6).toMatch(/^2001:db8::/);
    const created = [...api.instances.values()];
    expect(created).toHaveLength(1);
    expect(created[0]!.tags.sort()).toEqual(["jarvis", "web"]);
    // size is memory in MB: the smallest plan that has it; guestid debian-12 is Linode's linode/debian12.
    expect(created[0]!.type).toBe("g6-nanode-1");
    expect(created[0]!.image).toBe("linode/debian12");
    expect(created[0]!.authorized_keys).toEqual(["ssh-ed25519 AAAAC3Nza test@jarvis"]);
    expect(created[0]!.root_pass).toBe(s.root_password);
    expect(String(s.root_password)).toMatch(/^.{32}$/);
    // The design is left as it was: the password lives in the provider's section only.
    expect((r.clipboard.instance as Record<string, unknown>).root_password).toBeUndefined();
    expect(api.authHeaders.every((h) => h === `Bearer ${TOKEN}`)).toBe(true);
    expect(r.stderr).not.toContain(TOKEN);
    expect(r.stderr).not.toContain(String(s.root_password));
  });

  it("converges: a second deploy finds the host instead of creating another and keeps the password", async () => {
    const first = await runStep("linode", "deploy", design(), params(), env);
    expect(first.code, first.stderr).toBe(0);
    const second = await runStep("linode", "deploy", first.clipboard, params(), env);
    expect(second.code, second.stderr).toBe(0);
    expect(api.instances.size).toBe(1);
    expect(api.requests.filter((r) => r === "POST /v4beta/linode/instances")).toHaveLength(1);
    expect(section(second.clipboard).id).toBe(section(first.clipboard).id);
    expect(section(second.clipboard).root_password).toBe(section(first.clipboard).root_password);
    expect(second.stderr).toContain("exists already");
  });

  it("uses the design's root password when it gives one", async () => {
    const r = await runStep(
      "linode",
      "deploy",
      design("odin", { root_password: "Design-Given-Pass-123", plan: "g6-standard-2", size: 512 }),
      params(),
      env,
    );
    expect(r.code, r.stderr).toBe(0);
    expect([...api.instances.values()][0]!.type).toBe("g6-standard-2");
    expect((r.clipboard.instance as Record<string, unknown>).size).toBe(512);
    expect([...api.instances.values()][0]!.root_pass).toBe("Design-Given-Pass-123");
    expect(section(r.clipboard).root_password).toBeUndefined();
  });

  it("rides out a short 429 storm with backoff inside the step", async () => {
    api.throttle(3);
    const r = await runStep("linode", "deploy", design(), params(), env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("HTTP 429");
    expect(api.instances.size).toBe(1);
  });

  it("reports a long 429 storm as retryable (exit 75) after its bounded attempts", async () => {
    api.throttle(1000);
    const r = await runStep("linode", "deploy", design(), params(), env);
    expect(r.code).toBe(75);
    expect(r.lastLine).toMatch(/throttled.*HTTP 429.*gave up.*after 4 attempts/);
    expect(api.requests).toHaveLength(4);
  });

  it("reports 5xx errors as retryable", async () => {
    api.failNext(1000, 503);
    const r = await runStep("linode", "status", design(), params(), env);
    expect(r.code).toBe(75);
    expect(r.lastLine).toContain("HTTP 503");
  });

  it("refuses a bad token at once, saying what to fix, without printing it", async () => {
    const r = await runStep("linode", "deploy", design(), params(), { LINODE_TOKEN: "wrong-token-value-77" });
    expect(r.code).toBe(1);
    expect(r.lastLine).toContain("token was refused");
    expect(r.lastLine).toContain("LINODE_TOKEN");
    expect(r.stderr).not.toContain("wrong-token-value-77");
    expect(api.requests).toHaveLength(1);
  });

  it("says which field is wrong for an unknown region, and does not retry", async () => {
    const r = await runStep("linode", "deploy", design("loki", { datacenter: "mars-north" }), params(), env);
    expect(r.code).toBe(1);
    expect(r.lastLine).toContain("region: region is not valid");
    expect(api.instances.size).toBe(0);
  });

  it("reports the account limit as a quota error", async () => {
    await api.close();
    api = await startLinodeApi({ token: TOKEN, instanceLimit: 0 });
    const r = await runStep("linode", "deploy", design(), params(), env);
    expect(r.code).toBe(1);
    expect(r.lastLine).toMatch(/Account Limit reached.*support/);
  });

  it("powers off, then deletes, and deleting again is no error", async () => {
    const deployed = await runStep("linode", "deploy", design(), params(), env);
    expect(deployed.code, deployed.stderr).toBe(0);
    const off = await runStep("linode", "poweroff", deployed.clipboard, params(), env);
    expect(off.code, off.stderr).toBe(0);
    expect(section(off.clipboard).state).toBe("offline");
    expect([...api.instances.values()][0]!.status).toBe("offline");
    const del = await runStep("linode", "delete", off.clipboard, params(), env);
    expect(del.code, del.stderr).toBe(0);
    expect(api.instances.size).toBe(0);
    expect(del.clipboard.linode).toBeUndefined();
    const again = await runStep("linode", "delete", del.clipboard, params(), env);
    expect(again.code, again.stderr).toBe(0);
  });

  it("boots an offline host on deploy, and lists only jarvis's hosts across pages", async () => {
    const deployed = await runStep("linode", "deploy", design(), params(), env);
    await runStep("linode", "poweroff", deployed.clipboard, params(), env);
    const redeployed = await runStep("linode", "deploy", deployed.clipboard, params(), env);
    expect(redeployed.code, redeployed.stderr).toBe(0);
    expect(section(redeployed.clipboard).state).toBe("running");
    for (let i = 0; i < 30; i++) {
      const r = await fetch(`${api.url}/linode/instances`, {
        method: "POST",
        headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json" },
        body: JSON.stringify({
          label: `other-${i}`,
          type: "g6-nanode-1",
          region: "us-east",
          tags: i % 2 ? ["jarvis"] : [],
        }),
      });
      expect(r.status).toBe(200);
    }
    const listed = await runStep("linode", "list", {}, { ...params(), page_size: 25 }, env);
    expect(listed.code, listed.stderr).toBe(0);
    const hosts = listed.clipboard.linode_hosts as { label: string }[];
    expect(api.requests.filter((r) => r.startsWith("GET /v4beta/linode/instances")).length).toBeGreaterThan(
      0,
    );
    expect(hosts.map((h) => h.label).sort()).toEqual(
      ["loki", ...Array.from({ length: 15 }, (_, i) => `other-${2 * i + 1}`)].sort(),
    );
  });
});
