/**
 * What agent:install needs to install jarvis's own agent, from `modules.agent.with` (the same
 * keys a pipeline's `with` may set) and the design's `agent:` section (per host: groups, static
 * facts, allow lists). jarvis.yml's `agents:` section is for the service; the step gets its own
 * copy of the bus settings (a YAML anchor shares them, docs/agents.md), as every step module
 * takes its settings from `modules.<module>.with`.
 */
import { resolve } from "node:path";
import { z } from "zod";
import { StepFailure } from "../step-sdk/define-step.js";
import type { Clipboard } from "../step-sdk/define-step.js";
import { OPERATION_KINDS } from "../agent/protocol.js";
import type { NatsReload } from "../nodes/agent-users.js";

const tls = z.strictObject({ ca: z.string(), cert: z.string().optional(), key: z.string().optional() });
const urls = z.union([z.string(), z.array(z.string()).min(1)], {
  error: "must be a nats:// URL or a list of them",
});
const allow = z.strictObject({
  operations: z.array(z.enum(OPERATION_KINDS)).optional(),
  commands: z.array(z.string()).optional(),
});

/** The install keys of `modules.agent.with` (worker-params.ts adds them to the module's schema). */
export const agentInstallFields = {
  /** jarvis's own connection to the bus, as jarvis.yml's `agents.nats`. */
  nats: z.strictObject(
    { url: urls, nkey_seed_file: z.string(), tls: tls.optional() },
    { error: "must be {url, nkey_seed_file, tls?} as in agents.nats" },
  ),
  /** Where agents connect, when it differs from jarvis's own URL. */
  agent_url: urls,
  signing_key_file: z.string({ error: "must be the path of the job signing key (jarvis agent keys DIR)" }),
  /** Where the per-node NKEY seeds are kept. */
  secrets_dir: z.string(),
  /** The file nats-server includes as its `authorization` block. */
  authorization_file: z.string(),
  nats_reload: z.union(
    [
      z.strictObject({ pid_file: z.string() }),
      z.strictObject({ command: z.array(z.string().min(1)).min(1) }),
    ],
    { error: "must be {pid_file: PATH} or {command: [argv...]}" },
  ),
  /** Seconds to wait for the agent's first heartbeat. */
  online_timeout: z.number().positive(),
  heartbeat_seconds: z.number().positive(),
  /** Node.js 20 on the host. */
  node_binary: z.string().min(1),
  allow,
};

const installParams = z.object(agentInstallFields).partial();
const designAgent = z.object({
  groups: z.array(z.string()).optional(),
  facts: z.record(z.string(), z.unknown()).optional(),
  allow: allow.optional(),
});

/** What provisioning and revoking a node's NATS user need (agent:install and agent:revoke). */
export interface NatsUserSettings {
  node: string;
  /** jarvis's own NKEY seed: its user stays in the authorization. */
  jarvisSeedFile: string;
  secretsDir: string;
  authorizationFile: string;
  reload: NatsReload;
}

export interface AgentInstallSettings extends NatsUserSettings {
  jarvisNats: {
    urls: string[];
    tls: { ca: string; cert?: string; key?: string } | undefined;
  };
  agentUrls: string[];
  signingKeyFile: string;
  onlineTimeoutMs: number;
  heartbeatSeconds: number;
  nodeBinary: string | undefined;
  groups: string[];
  staticFacts: Record<string, unknown>;
  allow: { operations: string[]; commands: string[] | undefined };
}

/** True when jarvis.yml (or the pipeline) sets up the jarvis agent, rather than a command. */
export function installsJarvisAgent(params: Record<string, unknown>): boolean {
  return params.nats !== undefined;
}

type InstallParams = z.infer<typeof installParams>;

export function installSettings(clipboard: Clipboard, params: Record<string, unknown>): AgentInstallSettings {
  const p = parsedParams(params);
  const d = designAgent.safeParse(clipboard.agent ?? {});
  if (!d.success) throw paramsFailure("the design's agent", d.error);
  const purpose = "install jarvis's agent";
  const missing = missingKeys(p, ["nats", "signing_key_file", "authorization_file", "nats_reload"]);
  const { nats, signing_key_file } = p;
  if (missing.length > 0 || !nats || !signing_key_file) throw missingFailure(missing, purpose);
  const user = userSettings(clipboard, p, purpose);
  const list = (u: string | string[]): string[] => (Array.isArray(u) ? u : [u]);
  return {
    ...user,
    jarvisNats: {
      urls: list(nats.url),
      tls: nats.tls && {
        ca: resolve(nats.tls.ca),
        ...(nats.tls.cert ? { cert: resolve(nats.tls.cert) } : {}),
        ...(nats.tls.key ? { key: resolve(nats.tls.key) } : {}),
      },
    },
    agentUrls: list(p.agent_url ?? nats.url),
    signingKeyFile: resolve(signing_key_file),
    onlineTimeoutMs: (p.online_timeout ?? 120) * 1000,
    heartbeatSeconds: p.heartbeat_seconds ?? 10,
    nodeBinary: p.node_binary,
    groups: d.data.groups ?? [],
    staticFacts: d.data.facts ?? {},
    allow: {
      operations: d.data.allow?.operations ?? p.allow?.operations ?? ["ping", "facts", "cancel"],
      commands: d.data.allow?.commands ?? p.allow?.commands,
    },
  };
}

/** What agent:revoke needs: the node, where its seed is kept, and nats-server's authorization. */
export function natsUserSettings(clipboard: Clipboard, params: Record<string, unknown>): NatsUserSettings {
  return userSettings(clipboard, parsedParams(params), "revoke the node's NATS user");
}

/** How the reload is said in plans and logs. */
export function reloadShown(reload: NatsReload): string {
  return reload.kind === "pid-file" ? `SIGHUP to the pid in ${reload.file}` : reload.argv.join(" ");
}

function parsedParams(params: Record<string, unknown>): InstallParams {
  const p = installParams.safeParse(params);
  if (!p.success) throw paramsFailure("modules.agent.with", p.error);
  return p.data;
}

function userSettings(clipboard: Clipboard, p: InstallParams, purpose: string): NatsUserSettings {
  const { nats, authorization_file, nats_reload } = p;
  const missing = missingKeys(p, ["nats", "authorization_file", "nats_reload"]);
  if (missing.length > 0 || !nats || !authorization_file || !nats_reload) {
    throw missingFailure(missing, purpose);
  }
  const instance = clipboard.instance as Record<string, unknown> | undefined;
  const node = instance?.hostname;
  if (typeof node !== "string") {
    throw new StepFailure(
      "E_CLIPBOARD_FIELD",
      "clipboard field instance.hostname is missing: the agent's node name",
    );
  }
  return {
    node,
    jarvisSeedFile: resolve(nats.nkey_seed_file),
    secretsDir: resolve(p.secrets_dir ?? ".state/agents"),
    authorizationFile: resolve(authorization_file),
    reload:
      "pid_file" in nats_reload
        ? { kind: "pid-file", file: resolve(nats_reload.pid_file) }
        : { kind: "command", argv: nats_reload.command },
  };
}

function missingKeys(p: InstallParams, keys: (keyof InstallParams)[]): string[] {
  return keys.filter((k) => p[k] === undefined);
}

function missingFailure(missing: string[], purpose: string): StepFailure {
  return new StepFailure(
    "E_STEP_PARAMS",
    `agent: modules.agent.with needs ${missing.join(", ")} to ${purpose} (docs/agents.md "Install")`,
  );
}

function paramsFailure(where: string, error: z.ZodError): StepFailure {
  const issue = error.issues[0];
  const at = issue && issue.path.length > 0 ? `.${issue.path.join(".")}` : "";
  return new StepFailure("E_STEP_PARAMS", `agent: ${where}${at} ${issue?.message ?? "is invalid"}`);
}
