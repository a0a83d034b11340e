/**
 * The Linode provider, through Linode's own SDK (@linode/api-v4). Hosts are Linodes whose label
 * is the hostname and which carry the tag `jarvis`; that label is how a repeated deploy finds the
 * Linode it made before instead of making a second one.
 */
import * as linodeSdk from "@linode/api-v4";
import { ProviderError, ThrottledError } from "../errors.js";
import { pollUntil, scrub, withRetry } from "./retry.js";
import type { RetryPolicy, WaitPolicy } from "./retry.js";
import { planForSize } from "./provider.js";
import type { HostInfo, HostSpec, Provider } from "./provider.js";

/**
 * The part of the SDK this provider uses. The package's type declarations re-export directories
 * without extensions, which NodeNext resolution cannot follow, so the signatures are restated here
 * (from lib/linodes/linodes.d.ts and lib/request.d.ts of @linode/api-v4 0.158).
 */
interface LinodeSdk {
  baseRequest: {
    interceptors: { request: { use(fn: (config: { url?: string }) => { url?: string }): number } };
    post(url: string, data: unknown): Promise<unknown>;
  };
  setToken(token: string): number;
  getLinodes(
    params: { page: number; page_size: number },
    filter: Record<string, string>,
  ): Promise<{ data: Linode[]; page: number; pages: number; results: number }>;
  createLinode(data: Record<string, unknown>): Promise<Linode>;
  deleteLinode(id: number): Promise<unknown>;
  linodeShutdown(id: number): Promise<unknown>;
}
const { baseRequest, setToken, getLinodes, createLinode, deleteLinode, linodeShutdown } =
  linodeSdk as unknown as LinodeSdk;

/** The fields of a Linode (API v4 `GET /linode/instances/{id}`) that jarvis reads. */
export interface Linode {
  id: number;
  label: string;
  status: string;
  ipv4: string[];
  ipv6: string | null;
  tags: string[];
}

/** The SDK's built-in API root; every URL it builds starts with it (v4 or v4beta). */
const SDK_API_ROOT = "https://api.linode.com/v4";

/** The tag every jarvis-made Linode carries, so `list` shows only jarvis's hosts. */
export const LINODE_TAG = "jarvis";

/** What the Linode provider is configured with. */
export interface LinodeOptions {
  /** Personal access token (from the step's environment, LINODE_TOKEN). */
  token: string;
  /** API root, default https://api.linode.com/v4; tests point it at a local server. */
  apiUrl?: string;
  /** Defaults for designs that do not name them. */
  defaults: { region?: string; type?: string; image?: string };
  /** The design's guestid -> Linode image id, where the plain rule (debian-12 -> linode/debian12) does not fit. */
  images?: Record<string, string>;
  /** Linodes per page when listing (the API allows 25 to 500). */
  pageSize?: number;
  retry: RetryPolicy;
  wait: WaitPolicy;
  log(line: string): void;
}

/** Map a Linode status onto the provider-neutral states. */
export function linodeState(status: string): HostInfo["state"] {
  switch (status) {
    case "running":
      return "running";
    case "offline":
    case "stopped":
      return "offline";
    case "deleting":
      return "deleted";
    case "provisioning":
    case "booting":
    case "rebooting":
    case "rebuilding":
    case "cloning":
    case "migrating":
    case "restoring":
    case "shutting_down":
      return "provisioning";
    default:
      return "unknown";
  }
}

/** Linode plans by memory (MB), smallest first: a design's numeric `size` picks the first that fits. */
export const LINODE_PLANS: readonly [number, string][] = [
  [1024, "g6-nanode-1"],
  [2048, "g6-standard-1"],
  [4096, "g6-standard-2"],
  [8192, "g6-standard-4"],
  [16384, "g6-standard-6"],
  [32768, "g6-standard-8"],
  [65536, "g6-standard-16"],
];

/** The plan for a design's size: memory in MB (the smallest plan with at least that) or a plan id. */
export function linodeType(size: number | string | undefined): string | undefined {
  return planForSize(
    LINODE_PLANS,
    size,
    () =>
      new ProviderError(
        "E_PROVIDER_INPUT",
        `linode: no plan has ${size} MB of memory (largest: ${LINODE_PLANS[LINODE_PLANS.length - 1]![0]} MB); lower instance.size or name a plan in instance.plan`,
      ),
  );
}

/** The Linode image for a design's guestid: as is when it has a '/', else the mapping, else linode/<name without '-'>. */
export function linodeImage(
  guestid: string | undefined,
  images: Record<string, string> = {},
): string | undefined {
  if (guestid === undefined) return undefined;
  if (guestid.includes("/")) return guestid;
  return Object.hasOwn(images, guestid) ? images[guestid] : `linode/${guestid.replace(/-/g, "")}`;
}

/** A Linode as jarvis sees it. */
export function linodeInfo(l: Pick<Linode, "id" | "label" | "status" | "ipv4" | "ipv6">): HostInfo {
  const info: HostInfo = { id: String(l.id), label: l.label, state: linodeState(l.status) };
  // Public addresses first: the SDK lists private ones (192.168/16) in the same array.
  const v4 = [...(l.ipv4 ?? [])].sort(
    (a, b) => Number(a.startsWith("192.168.")) - Number(b.startsWith("192.168.")),
  )[0];
  if (v4) info.ipv4 = v4;
  if (l.ipv6) info.ipv6 = l.ipv6.replace(/\/\d+$/, "");
  return info;
}

/** Linode hosts through the official SDK, with bounded retries and waits. */
export class LinodeProvider implements Provider {
  readonly name = "linode";
  readonly newNodeAddresses = ["ipv4", "ipv6"] as const;
  private readonly opts: LinodeOptions;

  constructor(opts: LinodeOptions) {
    if (!opts.token) {
      throw new ProviderError(
        "E_PROVIDER_AUTH",
        "linode: no API token; set modules.linode.env.LINODE_TOKEN in jarvis.yml (e.g. LINODE_TOKEN: ${LINODE_TOKEN})",
      );
    }
    this.opts = opts;
    setToken(opts.token);
    const root = (opts.apiUrl ?? SDK_API_ROOT).replace(/\/+$/, "");
    if (root !== SDK_API_ROOT) {
      // The SDK builds absolute URLs from a constant root, so its baseURL has no effect:
      // rewrite the root of each request instead (v4beta URLs share the prefix).
      baseRequest.interceptors.request.use((config) => {
        if (config.url?.startsWith(SDK_API_ROOT)) config.url = root + config.url.slice(SDK_API_ROOT.length);
        return config;
      });
    }
  }

  planCreate(spec: HostSpec): Record<string, unknown> {
    const type = linodeType(spec.size) ?? this.opts.defaults.type;
    const region = spec.region ?? this.opts.defaults.region;
    const image = linodeImage(spec.image, this.opts.images) ?? this.opts.defaults.image;
    if (!type) throw inputError("size", "the plan (e.g. g6-nanode-1)");
    if (!region) throw inputError("datacenter", "the region (e.g. us-east)");
    if (!image) throw inputError("guestid", "the image (e.g. linode/debian12)");
    return { label: spec.hostname, type, region, image, tags: [...new Set([...spec.tags, LINODE_TAG])] };
  }

  async deploy(spec: HostSpec, signal: AbortSignal): Promise<HostInfo> {
    let found = await this.findRaw(spec.hostname, signal);
    if (found) {
      this.opts.log(
        `linode: ${spec.hostname} exists already (id ${found.id}, ${found.status}); not creating another`,
      );
    } else {
      const type = linodeType(spec.size) ?? this.opts.defaults.type;
      const region = spec.region ?? this.opts.defaults.region;
      const image = linodeImage(spec.image, this.opts.images) ?? this.opts.defaults.image;
      if (!type) throw inputError("size", "the plan (e.g. g6-nanode-1)");
      if (!region) throw inputError("datacenter", "the region (e.g. us-east)");
      if (!image) throw inputError("guestid", "the image (e.g. linode/debian12)");
      if (!spec.rootPassword) {
        throw new ProviderError(
          "E_PROVIDER_INPUT",
          "linode: deploying from an image needs a root password; set instance.root_password or let linode:deploy generate one (parameter root_password: generate)",
        );
      }
      const tags = [...new Set([...spec.tags, LINODE_TAG])];
      found = await this.call(`create ${spec.hostname}`, signal, () =>
        createLinode({
          label: spec.hostname,
          type,
          region,
          image,
          root_pass: spec.rootPassword,
          authorized_keys: spec.sshPublicKeys.length > 0 ? spec.sshPublicKeys : undefined,
          tags,
          booted: true,
        }),
      );
      this.opts.log(`linode: created ${spec.hostname} (id ${found.id}) in ${region}, ${type}, ${image}`);
    }
    if (found.status === "offline" || found.status === "stopped") {
      const id = found.id;
      this.opts.log(`linode: ${spec.hostname} is ${found.status}; booting it`);
      await this.call(`boot ${spec.hostname}`, signal, () => this.bootLinode(id));
    }
    return pollUntil(
      `linode: ${spec.hostname} running`,
      async () => {
        const l = await this.findRaw(spec.hostname, signal);
        if (!l)
          throw new ProviderError(
            "E_PROVIDER_GONE",
            `linode: ${spec.hostname} vanished while booting; someone deleted it — run deploy again`,
          );
        return l.status === "running" && l.ipv4.length > 0 ? linodeInfo(l) : undefined;
      },
      this.opts.wait,
      signal,
    );
  }

  async find(label: string, signal: AbortSignal): Promise<HostInfo | undefined> {
    const l = await this.findRaw(label, signal);
    return l ? linodeInfo(l) : undefined;
  }

  async powerOff(label: string, signal: AbortSignal): Promise<void> {
    const l = await this.findRaw(label, signal);
    if (!l || l.status === "offline" || l.status === "stopped") return;
    await this.call(`shut down ${label}`, signal, () => linodeShutdown(l.id));
    await pollUntil(
      `linode: ${label} offline`,
      async () => {
        const now = await this.findRaw(label, signal);
        return !now || now.status === "offline" || now.status === "stopped" ? true : undefined;
      },
      this.opts.wait,
      signal,
    );
  }

  async delete(label: string, signal: AbortSignal): Promise<void> {
    const l = await this.findRaw(label, signal);
    if (!l) return;
    try {
      await this.call(`delete ${label}`, signal, () => deleteLinode(l.id));
    } catch (err) {
      // Deleted between our lookup and the call: the goal is reached.
      if (err instanceof ProviderError && err.code === "E_PROVIDER_NOT_FOUND") return;
      throw err;
    }
  }

  async list(signal: AbortSignal): Promise<HostInfo[]> {
    return (await this.allPages({ tags: LINODE_TAG }, signal)).map(linodeInfo);
  }

  private async findRaw(label: string, signal: AbortSignal): Promise<Linode | undefined> {
    const matches = await this.allPages({ label }, signal);
    return matches.find((l) => l.label === label);
  }

  private async allPages(filter: Record<string, string>, signal: AbortSignal): Promise<Linode[]> {
    const out: Linode[] = [];
    // Bounded: 100 pages of up to 500 Linodes is more than any account holds.
    for (let page = 1; page <= 100; page++) {
      const res = await this.call("list Linodes", signal, () =>
        getLinodes({ page, page_size: this.opts.pageSize ?? 500 }, filter),
      );
      out.push(...res.data);
      if (page >= res.pages) break;
    }
    return out;
  }

  private bootLinode(id: number): Promise<unknown> {
    // linodeBoot posts {config_id: undefined}; the API boots the last used config then.
    return baseRequest.post(`${SDK_API_ROOT}/linode/instances/${id}/boot`, {});
  }

  private call<T>(what: string, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    return withRetry(
      `linode: ${what}`,
      async () => {
        if (signal.aborted)
          throw new ProviderError("E_PROVIDER_ABORTED", `linode: ${what} abandoned: the step was stopped`, {
            retryable: true,
          });
        try {
          return await fn();
        } catch (err) {
          throw translateLinodeError(err, what, this.opts.token);
        }
      },
      this.opts.retry,
      signal,
      this.opts.log,
    );
  }
}

/** Turn whatever the SDK threw (an axios error or an APIError[] from validation) into a ProviderError. */
export function translateLinodeError(err: unknown, what: string, token: string): ProviderError {
  if (err instanceof ProviderError) return err;
  const clean = (s: string): string => scrub(s, [token]);
  if (Array.isArray(err)) {
    return new ProviderError(
      "E_PROVIDER_INPUT",
      clean(
        `linode: ${what} refused by the SDK's validation: ${describeErrors(err)}; fix the design's instance fields`,
      ),
    );
  }
  const e = err as {
    response?: { status?: number; data?: unknown; headers?: Record<string, unknown> };
    code?: string;
    message?: string;
  };
  const status = e.response?.status;
  const body = e.response?.data as { errors?: unknown } | undefined;
  const reasons = Array.isArray(body?.errors) ? describeErrors(body.errors) : "";
  const detail = clean(reasons || e.message || "no detail");
  if (status === undefined) {
    return new ProviderError(
      "E_PROVIDER_UNREACHABLE",
      clean(
        `linode: ${what} failed: cannot reach the Linode API (${e.code ?? e.message ?? "network error"}); check api_url and the network`,
      ),
      { retryable: true },
    );
  }
  if (status === 429) {
    const after = Number(e.response?.headers?.["retry-after"]);
    return new ThrottledError(
      "E_PROVIDER_THROTTLED",
      `linode: ${what} throttled by the Linode API (HTTP 429)`,
      Number.isFinite(after) ? after * 1000 : undefined,
    );
  }
  if (status >= 500) {
    return new ProviderError(
      "E_PROVIDER_UNAVAILABLE",
      `linode: ${what} failed with HTTP ${status} from the Linode API: ${detail}`,
      { retryable: true },
    );
  }
  if (status === 401) {
    return new ProviderError(
      "E_PROVIDER_AUTH",
      `linode: the API token was refused (HTTP 401: ${detail}); check LINODE_TOKEN in modules.linode.env of jarvis.yml`,
    );
  }
  if (status === 403) {
    return new ProviderError(
      "E_PROVIDER_FORBIDDEN",
      `linode: ${what} not allowed for this token (HTTP 403: ${detail}); give the token read/write access to Linodes`,
    );
  }
  if (status === 404)
    return new ProviderError("E_PROVIDER_NOT_FOUND", `linode: ${what}: not found (HTTP 404)`);
  if (/limit/i.test(detail)) {
    return new ProviderError(
      "E_PROVIDER_QUOTA",
      `linode: ${what} refused: ${detail}; raise the account limit with Linode support or delete unused Linodes`,
    );
  }
  return new ProviderError(
    "E_PROVIDER_INPUT",
    `linode: ${what} refused (HTTP ${status}): ${detail}; fix the design's instance fields (size, datacenter, guestid)`,
  );
}

function describeErrors(errors: unknown[]): string {
  return errors
    .map((x) => {
      const o = (x ?? {}) as { field?: unknown; reason?: unknown };
      return `${typeof o.field === "string" ? `${o.field}: ` : ""}${String(o.reason ?? "unknown reason")}`;
    })
    .join("; ");
}

function inputError(field: string, what: string): ProviderError {
  return new ProviderError(
    "E_PROVIDER_INPUT",
    `linode: the design names no ${what}; set instance.${field} or modules.linode.with in jarvis.yml`,
  );
}
