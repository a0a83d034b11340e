/**
 * Turns a Provider into a step module offering PROVIDER_TASKS, so every provider keeps the same
 * clipboard contract: it reads the design's `instance:` and writes what it learnt under its own
 * key, `<provider>: {id, label, state, ipv4, ipv6, ssh_port}` (see host-address.ts for readers).
 */
import { runStepModule, requireField, StepFailure } from "../step-sdk/define-step.js";
import type { Clipboard, StepContext, StepTask } from "../step-sdk/define-step.js";
import type { HostInfo, HostSpec, Provider, ProviderTask } from "./provider.js";
import { planProviderTask } from "./provider-plan.js";

/** Builds the provider for one step invocation from its parameters and environment (secrets). */
export type ProviderFactory = (ctx: StepContext) => Provider | Promise<Provider>;

/** Read a HostSpec from the design's `instance:` mapping; missing required fields name the field. */
export function hostSpecFrom(clipboard: Clipboard): HostSpec {
  const hostname = requireField(clipboard, "instance.hostname", "string") as string;
  const instance = clipboard.instance as Record<string, unknown>;
  const keys = instance.sshpubkey;
  // jarvis's own deploy key (recorded by ssh:prepare) must be let in too, or no later step can log in.
  const ssh = clipboard.ssh as Record<string, unknown> | undefined;
  const deployKey = ssh && typeof ssh.deploy_key === "string" ? [ssh.deploy_key] : [];
  const str = (v: unknown): string | undefined =>
    typeof v === "string" ? v : typeof v === "number" ? String(v) : undefined;
  return {
    hostname,
    fqdn: str(instance.fqdn),
    image: str(instance.guestid) ?? str(instance.image),
    size: typeof instance.size === "number" ? instance.size : str(instance.size),
    region: str(instance.datacenter) ?? str(instance.region),
    sshPublicKeys: [
      ...new Set([
        ...(Array.isArray(keys) ? keys.map(String) : typeof keys === "string" ? [keys] : []),
        ...deployKey,
      ]),
    ],
    rootPassword: str(instance.root_password),
    tags: Array.isArray(instance.tags) ? instance.tags.map(String) : [],
  };
}

/**
 * The clipboard section a provider writes about a host. `sshPort` is the provider module's
 * `with.ssh_port` (its images' sshd port): it wins over what the provider reports, since the cloud
 * APIs do not know the port an image's sshd listens on.
 */
export function hostSection(info: HostInfo, sshPort?: number): Record<string, unknown> {
  const section: Record<string, unknown> = { id: info.id, label: info.label, state: info.state };
  if (info.ipv4) section.ipv4 = info.ipv4;
  if (info.ipv6) section.ipv6 = info.ipv6;
  const port = sshPort ?? info.sshPort;
  if (port) section.ssh_port = port;
  return section;
}

/** `with.ssh_port`, checked again here: the step may be run with any JSON. */
function sshPortOf(name: string, params: Record<string, unknown>): number | undefined {
  const port = params.ssh_port;
  if (port === undefined) return undefined;
  if (typeof port === "number" && Number.isInteger(port) && port > 0 && port < 65536) return port;
  throw new StepFailure(
    "E_STEP_PARAMS",
    `${name}: parameter ssh_port must be a TCP port number (1-65535), got ${JSON.stringify(port)}; fix modules.${name}.with.ssh_port in jarvis.yml`,
  );
}

/** The step tasks for a provider, each converging on repeated runs. */
export function providerTasks(name: string, factory: ProviderFactory): Record<ProviderTask, StepTask> {
  const withSection = (clipboard: Clipboard, section: Record<string, unknown> | undefined): Clipboard => {
    const next: Clipboard = { ...clipboard };
    if (section) next[name] = section;
    else delete next[name];
    return next;
  };
  const label = (clipboard: Clipboard): string =>
    requireField(clipboard, "instance.hostname", "string") as string;
  const tools = { name, label, spec: hostSpecFrom, section: hostSection };
  // In a plan run every task only looks (provider-plan.ts).
  const planning =
    (task: ProviderTask, real: StepTask): StepTask =>
    async (clipboard, ctx) =>
      ctx.plan ? planProviderTask(task, await factory(ctx), tools, clipboard, ctx) : real(clipboard, ctx);
  const tasks: Record<ProviderTask, StepTask> = {
    async deploy(clipboard, ctx) {
      const provider = await factory(ctx);
      ctx.log(`${name}: deploying ${label(clipboard)}`);
      const info = await provider.deploy(hostSpecFrom(clipboard), ctx.signal);
      ctx.log(`${name}: ${info.label} is ${info.state}${info.ipv4 ? ` at ${info.ipv4}` : ""}`);
      return withSection(clipboard, hostSection(info, sshPortOf(name, ctx.params)));
    },
    async ip(clipboard, ctx) {
      const provider = await factory(ctx);
      const info = await provider.find(label(clipboard), ctx.signal);
      if (!info)
        throw new StepFailure(
          "E_HOST_NOT_FOUND",
          `${name}: no host labelled ${label(clipboard)}; run ${name}:deploy first`,
        );
      if (!info.ipv4 && !info.ipv6) {
        throw new StepFailure(
          "E_HOST_NO_ADDRESS",
          `${name}: ${info.label} has no address yet (state ${info.state})`,
          { retryable: true },
        );
      }
      return withSection(clipboard, hostSection(info, sshPortOf(name, ctx.params)));
    },
    async poweroff(clipboard, ctx) {
      const provider = await factory(ctx);
      await provider.powerOff(label(clipboard), ctx.signal);
      ctx.log(`${name}: ${label(clipboard)} powered off`);
      const info = await provider.find(label(clipboard), ctx.signal);
      return withSection(clipboard, info ? hostSection(info, sshPortOf(name, ctx.params)) : undefined);
    },
    async delete(clipboard, ctx) {
      const provider = await factory(ctx);
      await provider.delete(label(clipboard), ctx.signal);
      ctx.log(`${name}: ${label(clipboard)} deleted`);
      return withSection(clipboard, undefined);
    },
    async status(clipboard, ctx) {
      const provider = await factory(ctx);
      const info = await provider.find(label(clipboard), ctx.signal);
      ctx.log(`${name}: ${label(clipboard)} ${info ? info.state : "does not exist"}`);
      return withSection(clipboard, info ? hostSection(info, sshPortOf(name, ctx.params)) : undefined);
    },
    async list(clipboard, ctx) {
      const provider = await factory(ctx);
      const hosts = await provider.list(ctx.signal);
      for (const h of hosts) ctx.log(`${name}: ${h.label} ${h.state} ${h.ipv4 ?? ""}`.trimEnd());
      const port = sshPortOf(name, ctx.params);
      return { ...clipboard, [`${name}_hosts`]: hosts.map((h) => hostSection(h, port)) };
    },
  };
  return {
    deploy: planning("deploy", tasks.deploy),
    ip: planning("ip", tasks.ip),
    poweroff: planning("poweroff", tasks.poweroff),
    delete: planning("delete", tasks.delete),
    status: planning("status", tasks.status),
    list: planning("list", tasks.list),
  };
}

/** Run a provider as a step module when this file is the process's main module. */
export function runProviderStep(moduleUrl: string, name: string, factory: ProviderFactory): void {
  runStepModule(moduleUrl, providerTasks(name, factory), { plan: "in-task" });
}
