// Plan mode of the linode and ec2 steps against the local servers speaking their APIs' wire
// formats: a plan creates nothing, says what it would create, and the deploy that follows creates
// exactly that; a plan of an existing node finds it, and a planned delete deletes nothing.
// Needs `npx tsc -p .` first (npm test builds).
import { afterEach, describe, expect, it } from "vitest";
import { startLinodeApi } from "../servers/linode-api.js";
import type { LinodeApi } from "../servers/linode-api.js";
import { startEc2Api } from "../servers/ec2-api.js";
import type { Ec2Api } from "../servers/ec2-api.js";
import { runStep } from "./spawn-step.js";
import type { PlanEntry } from "../../../src/step-sdk/plan.js";

const PLAN = { JARVIS_PLAN: "1" };
const retry = {
  poll_ms: 10,
  poll_max_ms: 40,
  wait_timeout_s: 30,
  retry_base_ms: 10,
  retry_max_ms: 50,
  api_attempts: 4,
};
const planOf = (c: Record<string, unknown>): PlanEntry[] => c.plan as PlanEntry[];

let linode: LinodeApi | undefined;
let ec2: Ec2Api | undefined;
afterEach(async () => {
  await linode?.close();
  await ec2?.close();
  linode = ec2 = undefined;
});

describe("plan mode of the cloud providers", () => {
  it("linode: plans the create exactly, creates nothing, and then finds the node the deploy made", async () => {
    const TOKEN = "lin-plan-token-77";
    linode = await startLinodeApi({ token: TOKEN, retryAfterSeconds: 0 });
    const design = {
      instance: {
        hostname: "loki",
        provider: "linode",
        size: 2048,
        datacenter: "us-east",
        guestid: "debian-12",
        tags: ["web"],
      },
    };
    const params = { api_url: linode.url, ...retry };
    const env = { LINODE_TOKEN: TOKEN };
    const planned = await runStep("linode", "deploy", design, params, { ...env, ...PLAN });
    expect(planned.code, planned.stderr).toBe(0);
    expect(linode.instances.size).toBe(0);
    const [entry] = planOf(planned.clipboard);
    expect(entry).toMatchObject({ step: "linode:deploy", action: "create", target: "linode node loki" });
    expect(linode.requests.filter((r) => !r.startsWith("GET "))).toEqual([]);

    const real = await runStep("linode", "deploy", design, params, env);
    expect(real.code, real.stderr).toBe(0);
    const [made] = [...linode.instances.values()];
    const after = entry!.after as Record<string, unknown>;
    expect({
      type: made!.type,
      region: made!.region,
      image: made!.image,
      tags: [...made!.tags].sort(),
    }).toEqual({
      type: after.type,
      region: after.region,
      image: after.image,
      tags: [...(after.tags as string[])].sort(),
    });

    const again = await runStep("linode", "deploy", real.clipboard, params, { ...env, ...PLAN });
    expect(again.code, again.stderr).toBe(0);
    expect(planOf(again.clipboard)[0]).toMatchObject({ action: "none" });
    const del = await runStep("linode", "delete", real.clipboard, params, { ...env, ...PLAN });
    expect(del.code, del.stderr).toBe(0);
    expect(planOf(del.clipboard)[0]).toMatchObject({ action: "delete" });
    expect(linode.instances.size).toBe(1);
  });

  it("ec2: plans the launch exactly, launches nothing, and then finds the instance the deploy made", async () => {
    const KEY_ID = "AKIAJARVISPLAN0001";
    const SECRET = "jarvisPlanSecretKey/0123456789abcdefABCDEF";
    ec2 = await startEc2Api({ accessKeyId: KEY_ID, secretAccessKey: SECRET, region: "eu-west-1" });
    const design = {
      instance: { hostname: "hel", provider: "ec2", size: 1024, guestid: "debian-12", region: "eu-west-1" },
    };
    const params = {
      endpoint: ec2.url,
      key_name: "ops",
      images: { "debian-12": "ami-0123456789abcdef0" },
      ...retry,
    };
    const env = { AWS_ACCESS_KEY_ID: KEY_ID, AWS_SECRET_ACCESS_KEY: SECRET, AWS_REGION: "us-east-1" };
    const planned = await runStep("ec2", "deploy", design, params, { ...env, ...PLAN });
    expect(planned.code, planned.stderr).toBe(0);
    expect(ec2.instances.size).toBe(0);
    const [entry] = planOf(planned.clipboard);
    expect(entry).toMatchObject({ step: "ec2:deploy", action: "create", target: "ec2 node hel" });

    const real = await runStep("ec2", "deploy", design, params, env);
    expect(real.code, real.stderr).toBe(0);
    const [made] = [...ec2.instances.values()];
    const after = entry!.after as Record<string, unknown>;
    expect({ type: made!.instanceType, image: made!.imageId }).toEqual({
      type: after.instance_type,
      image: after.image,
    });

    const again = await runStep("ec2", "deploy", real.clipboard, params, { ...env, ...PLAN });
    expect(planOf(again.clipboard)[0]).toMatchObject({ action: "none" });
    const off = await runStep("ec2", "poweroff", real.clipboard, params, { ...env, ...PLAN });
    expect(planOf(off.clipboard)[0]).toMatchObject({ action: "update", after: { state: "offline" } });
    expect([...ec2.instances.values()][0]!.state).toBe("running");
  });
});
