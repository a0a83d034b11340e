/**
 * The `linode:*` step module. Settings come as parameters (jarvis.yml `modules.linode.with`
 * under the pipeline's `with`): api_url, region, type, image, root_password (generate|require),
 * retry and wait bounds. The token comes from the environment (LINODE_TOKEN) and is never printed.
 *
 * Linode insists on a root password when deploying from an image. Unless the design gives one,
 * deploy generates a strong one and keeps it on the clipboard as `linode.root_password` (hidden
 * by the redactor), because it is the only way into the Linode's console (Lish) when SSH is down.
 */
import { randomInt } from "node:crypto";
import { providerTasks } from "./provider-step.js";
import { LinodeProvider } from "./linode.js";
import { numberParam, policiesFrom, stringMap, withPlan } from "./retry.js";
import { runStepModule, StepFailure } from "../step-sdk/define-step.js";
import type { Clipboard, StepContext, StepTask } from "../step-sdk/define-step.js";
import type { ProviderTask } from "./provider.js";

/** Build the Linode provider from a step's parameters and environment. */
export function linodeFromContext(ctx: StepContext): LinodeProvider {
  const p = ctx.params;
  const str = (key: string): string | undefined =>
    typeof p[key] === "string" && p[key] !== "" ? (p[key] as string) : undefined;
  return new LinodeProvider({
    token: ctx.env.LINODE_TOKEN ?? "",
    apiUrl: str("api_url"),
    defaults: { region: str("region"), type: str("type"), image: str("image") },
    images: stringMap(p.images, "images"),
    pageSize: Math.min(Math.max(Math.floor(numberParam(p, "page_size", 500)), 25), 500),
    ...policiesFrom(p),
    log: ctx.log,
  });
}

/** A strong random password: 32 characters from four classes, each class present. */
export function generateRootPassword(length = 32): string {
  const classes = ["ABCDEFGHJKLMNPQRSTUVWXYZ", "abcdefghijkmnopqrstuvwxyz", "23456789", "-_.,:+=%@"];
  const all = classes.join("");
  const chars = classes.map((c) => c[randomInt(c.length)]!);
  while (chars.length < length) chars.push(all[randomInt(all.length)]!);
  // Fisher-Yates, so the guaranteed characters are not always in front.
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.join("");
}

function section(clipboard: Clipboard, key: string): Record<string, unknown> | undefined {
  const v = clipboard[key];
  return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** The provider tasks, with the root password kept across them and generated on deploy. */
export function linodeTasks(): Record<ProviderTask, StepTask> {
  // One provider per step process: the SDK's request settings are process-wide.
  const providers = new WeakMap<StepContext, LinodeProvider>();
  const providerFor = (ctx: StepContext): LinodeProvider => {
    let p = providers.get(ctx);
    if (!p) providers.set(ctx, (p = linodeFromContext(ctx)));
    return p;
  };
  const base = providerTasks("linode", providerFor);
  // Every task but delete rewrites the linode section from what the API says; keep the password
  // a deploy generated, which the API never returns.
  const keepPassword =
    (task: StepTask): StepTask =>
    async (clipboard, ctx) => {
      const known = section(clipboard, "linode")?.root_password;
      const out = (await task(clipboard, ctx)) ?? clipboard;
      const after = section(out, "linode");
      if (typeof known === "string" && after && after.root_password === undefined)
        out.linode = { ...after, root_password: known };
      return out;
    };
  const deploy: StepTask = async (design, ctx) => {
    const clipboard = withPlan(design);
    const instance = section(clipboard, "instance") ?? {};
    const policy = ctx.params.root_password ?? "generate";
    if (policy !== "generate" && policy !== "require") {
      throw new StepFailure(
        "E_STEP_PARAMS",
        `linode: parameter root_password must be 'generate' or 'require', got ${JSON.stringify(policy)}`,
      );
    }
    const restore = (out: Clipboard | void): Clipboard => ({
      ...(out ?? clipboard),
      instance: design.instance,
    });
    // A plan makes no password: the real run does, if it creates the node.
    if (ctx.plan || (typeof instance.root_password === "string" && instance.root_password !== ""))
      return restore(await base.deploy(clipboard, ctx));
    if (policy === "require") {
      throw new StepFailure(
        "E_CLIPBOARD_FIELD",
        "linode: the design has no instance.root_password and root_password: require is set; add one to the design (or use root_password: generate)",
      );
    }
    const earlier = section(clipboard, "linode")?.root_password;
    const hostname = typeof instance.hostname === "string" ? instance.hostname : "";
    if (hostname && (await providerFor(ctx).find(hostname, ctx.signal))) {
      // It exists: no password is sent, and a fresh one would not be the host's.
      if (typeof earlier !== "string")
        ctx.log(`linode: ${hostname} exists already; its root password is not on this clipboard`);
      return restore(await keepPassword(base.deploy)(clipboard, ctx));
    }
    const password = typeof earlier === "string" && earlier !== "" ? earlier : generateRootPassword();
    const withPassword: Clipboard = { ...clipboard, instance: { ...instance, root_password: password } };
    const out = (await base.deploy(withPassword, ctx)) ?? withPassword;
    // The generated password belongs to the provider's section, not to the design.
    out.instance = design.instance;
    const linode = section(out, "linode") ?? {};
    if (earlier === undefined)
      ctx.log("linode: generated a root password (kept on the clipboard as linode.root_password)");
    out.linode = { ...linode, root_password: password };
    return out;
  };
  return {
    deploy,
    ip: keepPassword(base.ip),
    poweroff: keepPassword(base.poweroff),
    delete: base.delete,
    status: keepPassword(base.status),
    list: base.list,
  };
}

runStepModule(import.meta.url, linodeTasks(), { plan: "in-task" });
