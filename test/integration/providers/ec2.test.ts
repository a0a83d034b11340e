// The ec2 step module, compiled and spawned like the engine does, against a local server speaking
// the EC2 Query API (SigV4-checked, XML), reached by the real @aws-sdk/client-ec2 through its
// endpoint setting. Needs `npx tsc -p .` first (npm test builds).
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startEc2Api } from "../servers/ec2-api.js";
import type { Ec2Api } from "../servers/ec2-api.js";
import { runStep } from "./spawn-step.js";

const KEY_ID = "AKIAJARVISTEST0001";
const SECRET = "jarvisTestSecretKey/0123456789abcdefABCDEF";
const AMI = "ami-0123456789abcdef0";
let api: Ec2Api;

const design = (hostname = "hel", extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  instance: {
    hostname,
    provider: "ec2",
    size: 1024,
    guestid: "debian-12",
    region: "eu-west-1",
    sshpubkey: ["ssh-ed25519 AAAAC3Nzb op@jarvis"],
    tags: ["db"],
    ...extra,
  },
});
const params = (): Record<string, unknown> => ({
  endpoint: api.url,
  key_name: "ops",
  images: { "debian-12": AMI },
  poll_ms: 10,
  poll_max_ms: 40,
  wait_timeout_s: 30,
  retry_base_ms: 10,
  retry_max_ms: 50,
  api_attempts: 4,
});
const env = { AWS_ACCESS_KEY_ID: KEY_ID, AWS_SECRET_ACCESS_KEY: SECRET, AWS_REGION: "us-east-1" };
const section = (c: Record<string, unknown>): Record<string, unknown> => c.ec2 as Record<string, unknown>;
const live = (): number =>
  [...api.instances.values()].filter((i) => i.state !== "terminated" && i.state !== "shutting-down").length;

beforeEach(async () => {
  api = await startEc2Api({ accessKeyId: KEY_ID, secretAccessKey: SECRET, region: "eu-west-1" });
});
afterEach(async () => {
  await api.close();
});

describe("ec2 step against the EC2 Query API server", () => {
  it("launches an instance with tags, key, user data and a ClientToken, and waits until it runs", async () => {
    const r = await runStep("ec2", "deploy", design(), params(), env);
    expect(r.code, r.stderr).toBe(0);
    const s = section(r.clipboard);
    expect(s.state).toBe("running");
    expect(s.label).toBe("hel");
    expect(s.ipv4).toMatch(/^198\.51\.100\.\d+$/);
    const [inst] = [...api.instances.values()];
    expect(inst!.instanceId).toBe(s.id);
    expect(Object.fromEntries(inst!.tags)).toEqual({ Name: "hel", jarvis: "managed", "jarvis:db": "true" });
    expect(inst!.keyName).toBe("ops");
    expect(inst!.instanceType).toBe("t3.micro");
    expect(inst!.imageId).toBe(AMI);
    expect(inst!.clientToken).toMatch(/^jarvis-[0-9a-f]{32}$/);
    expect(Buffer.from(inst!.userData!, "base64").toString()).toContain("ssh-ed25519 AAAAC3Nzb op@jarvis");
    expect(r.stderr).not.toContain(SECRET);
  });

  it("converges: a re-run finds the instance by its tags and launches nothing", async () => {
    const first = await runStep("ec2", "deploy", design(), params(), env);
    expect(first.code, first.stderr).toBe(0);
    const second = await runStep("ec2", "deploy", first.clipboard, params(), env);
    expect(second.code, second.stderr).toBe(0);
    expect(api.actions.filter((a) => a === "RunInstances")).toHaveLength(1);
    expect(section(second.clipboard).id).toBe(section(first.clipboard).id);
    expect(second.stderr).toContain("exists already");
  });

  it("rides out a short RequestLimitExceeded storm and reports a long one as retryable", async () => {
    api.throttle(2);
    const ok = await runStep("ec2", "deploy", design(), params(), env);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toContain("RequestLimitExceeded");
    api.throttle(1000);
    const r = await runStep("ec2", "status", ok.clipboard, params(), env);
    expect(r.code).toBe(75);
    expect(r.lastLine).toMatch(/throttled by EC2 \(RequestLimitExceeded\).*after 4 attempts/);
  });

  it("refuses a wrong secret key at once without printing any credential", async () => {
    const r = await runStep("ec2", "deploy", design(), params(), {
      ...env,
      AWS_SECRET_ACCESS_KEY: "not-the-right-secret-key-0000",
    });
    expect(r.code).toBe(1);
    expect(r.lastLine).toMatch(/AWS refused the credentials \(AuthFailure/);
    expect(r.lastLine).toContain("AWS_SECRET_ACCESS_KEY");
    expect(r.stderr).not.toContain("not-the-right-secret-key-0000");
    expect(api.actions).toHaveLength(1);
  });

  it("names the field to fix for an unknown AMI, an unknown instance type and the instance quota", async () => {
    const ami = await runStep(
      "ec2",
      "deploy",
      design("hel", { guestid: "ami-00000000000000bad" }),
      params(),
      env,
    );
    expect(ami.code).toBe(1);
    expect(ami.lastLine).toMatch(/unknown image \(InvalidAMIID.NotFound.*instance.guestid/);
    const type = await runStep("ec2", "deploy", design("hel", { plan: "t9.huge" }), params(), env);
    expect(type.code).toBe(1);
    expect(type.lastLine).toContain("Invalid value 't9.huge' for InstanceType");
    await api.close();
    api = await startEc2Api({
      accessKeyId: KEY_ID,
      secretAccessKey: SECRET,
      region: "eu-west-1",
      instanceLimit: 0,
    });
    const quota = await runStep("ec2", "deploy", design(), params(), env);
    expect(quota.code).toBe(1);
    expect(quota.lastLine).toMatch(/quota reached \(InstanceLimitExceeded/);
  });

  it("says how to map a guestid that is no AMI", async () => {
    const r = await runStep("ec2", "deploy", design("hel", { guestid: "plan9-4" }), params(), env);
    expect(r.code).toBe(1);
    expect(r.lastLine).toContain(
      "no AMI known for guestid 'plan9-4'; use an ami- id or map it in modules.ec2.with.images",
    );
  });

  it("refuses a region that is not one", async () => {
    const r = await runStep("ec2", "deploy", design("hel", { region: "moon-base" }), params(), env);
    expect(r.code).toBe(1);
    expect(r.lastLine).toContain("'moon-base' is not an AWS region");
  });

  it("stops, terminates, and a second delete is no error; a redeploy after it launches a fresh instance", async () => {
    const deployed = await runStep("ec2", "deploy", design(), params(), env);
    expect(deployed.code, deployed.stderr).toBe(0);
    const off = await runStep("ec2", "poweroff", deployed.clipboard, params(), env);
    expect(off.code, off.stderr).toBe(0);
    expect(section(off.clipboard).state).toBe("offline");
    const del = await runStep("ec2", "delete", off.clipboard, params(), env);
    expect(del.code, del.stderr).toBe(0);
    expect(del.clipboard.ec2).toBeUndefined();
    expect(live()).toBe(0);
    const again = await runStep("ec2", "delete", del.clipboard, params(), env);
    expect(again.code, again.stderr).toBe(0);
    // Same run id, so the same first ClientToken: its instance is terminated, so a new one is launched.
    const fresh = await runStep("ec2", "deploy", del.clipboard, params(), env);
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(section(fresh.clipboard).id).not.toBe(section(deployed.clipboard).id);
    expect(live()).toBe(1);
  });

  it("lists the instances jarvis manages", async () => {
    await runStep("ec2", "deploy", design("hel"), params(), env);
    await runStep("ec2", "deploy", design("tyr"), params(), env);
    const r = await runStep("ec2", "list", {}, { ...params(), region: "eu-west-1" }, env);
    expect(r.code, r.stderr).toBe(0);
    expect((r.clipboard.ec2_hosts as { label: string }[]).map((h) => h.label).sort()).toEqual(["hel", "tyr"]);
  });
});
