/**
 * The `ec2:*` step module. Settings come as parameters (jarvis.yml `modules.ec2.with` under the
 * pipeline's `with`): endpoint, region, instance_type, image, key_name, subnet_id,
 * security_group_ids, retry and wait bounds. Credentials come from the environment
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, optional AWS_SESSION_TOKEN, AWS_REGION) and are never
 * printed. The AWS SDK is heavy, so only this step module loads it.
 */
import { providerTasks } from "./provider-step.js";
import { Ec2Provider } from "./ec2.js";
import { policiesFrom, stringMap, withPlan } from "./retry.js";
import { runStepModule } from "../step-sdk/define-step.js";
import type { Clipboard, StepContext, StepTask } from "../step-sdk/define-step.js";
import type { ProviderTask } from "./provider.js";

/** Build the EC2 provider from a step's parameters and environment. */
export function ec2FromContext(ctx: StepContext): Ec2Provider {
  const p = ctx.params;
  const str = (key: string): string | undefined =>
    typeof p[key] === "string" && p[key] !== "" ? (p[key] as string) : undefined;
  const groups = p.security_group_ids;
  return new Ec2Provider({
    region: str("region") ?? ctx.env.AWS_REGION ?? ctx.env.AWS_DEFAULT_REGION ?? "",
    accessKeyId: ctx.env.AWS_ACCESS_KEY_ID ?? "",
    secretAccessKey: ctx.env.AWS_SECRET_ACCESS_KEY ?? "",
    sessionToken: ctx.env.AWS_SESSION_TOKEN || undefined,
    endpoint: str("endpoint"),
    defaults: {
      instanceType: str("instance_type"),
      imageId: str("image"),
      keyName: str("key_name"),
      subnetId: str("subnet_id"),
      securityGroupIds: Array.isArray(groups)
        ? groups.map(String)
        : typeof groups === "string"
          ? [groups]
          : undefined,
    },
    images: stringMap(p.images, "images"),
    runId: ctx.runId,
    ...policiesFrom(p),
    log: ctx.log,
  });
}

/** The region a design asks for: `instance.region`, else the region of `instance.datacenter` (an AZ like eu-west-1a). */
export function designRegion(clipboard: Clipboard): string | undefined {
  const instance = clipboard.instance;
  if (!instance || typeof instance !== "object") return undefined;
  const { region, datacenter } = instance as Record<string, unknown>;
  if (typeof region === "string" && region !== "") return region;
  if (typeof datacenter === "string" && datacenter !== "") return datacenter.replace(/(\d)[a-z]$/, "$1");
  return undefined;
}

/** The provider tasks, each talking to the region the design names (else the configured one). */
export function ec2Tasks(): Record<ProviderTask, StepTask> {
  const base = providerTasks("ec2", ec2FromContext);
  const inRegion =
    (task: StepTask): StepTask =>
    (clipboard, ctx) => {
      const region = designRegion(clipboard);
      return task(clipboard, region ? { ...ctx, params: { ...ctx.params, region } } : ctx);
    };
  return {
    deploy: inRegion(async (design, ctx) => ({
      ...((await base.deploy(withPlan(design), ctx)) ?? design),
      instance: design.instance,
    })),
    ip: inRegion(base.ip),
    poweroff: inRegion(base.poweroff),
    delete: inRegion(base.delete),
    status: inRegion(base.status),
    list: base.list,
  };
}

runStepModule(import.meta.url, ec2Tasks(), { plan: "in-task" });
