/**
 * One interface for every place a host can be deployed (local sshd, Linode, EC2). Each provider
 * is exposed as a step module `<name>:<task>` whose tasks map onto these methods; the step file
 * (src/providers/<name>-step.ts) reads the design from the clipboard and writes results under the
 * provider's own key (`linode: {id, ipv4}`).
 */

/** The tasks every provider step module offers. */
export const PROVIDER_TASKS = ["deploy", "ip", "poweroff", "delete", "status", "list"] as const;

/** One of the provider tasks. */
export type ProviderTask = (typeof PROVIDER_TASKS)[number];

/** What a provider needs to create a host, taken from the design's `instance:` mapping. */
export interface HostSpec {
  hostname: string;
  fqdn?: string;
  image?: string;
  size?: number | string;
  region?: string;
  sshPublicKeys: string[];
  rootPassword?: string;
  tags: string[];
}

/** A host as a provider sees it. */
export interface HostInfo {
  id: string;
  label: string;
  state: "provisioning" | "running" | "offline" | "deleted" | "unknown";
  ipv4?: string;
  ipv6?: string;
  /** SSH port, where it is not 22 (the local provider). */
  sshPort?: number;
}

/** A place hosts are deployed to. Every method converges: repeating it does no harm. */
export interface Provider {
  readonly name: string;
  /**
   * The addresses a node it creates comes up with: what a plan puts placeholders for, and so the
   * DNS records it plans. A VMware guest reports one (its primary, on an IPv4 network the IPv4);
   * a Linode always gets IPv6 too; an EC2 instance may (its subnet decides).
   */
  readonly newNodeAddresses: readonly ("ipv4" | "ipv6")[];
  /** Create the host or find the one that already exists with this label; waits until it runs. */
  deploy(spec: HostSpec, signal: AbortSignal): Promise<HostInfo>;
  /**
   * What deploy would create for `spec` (plan, image, region, ...), checking the design the way
   * deploy does, without creating or contacting anything.
   */
  planCreate(spec: HostSpec): Record<string, unknown>;
  /** Find a host by label; undefined when there is none. */
  find(label: string, signal: AbortSignal): Promise<HostInfo | undefined>;
  /** Power the host off (no error if it is already off). */
  powerOff(label: string, signal: AbortSignal): Promise<void>;
  /** Delete the host (no error if it is already gone). */
  delete(label: string, signal: AbortSignal): Promise<void>;
  /** Every host this provider manages for jarvis. */
  list(signal: AbortSignal): Promise<HostInfo[]>;
}

/**
 * A provider's plan or type for a design's `size`: a name is taken as it is; a number is memory in
 * MB and picks the smallest entry of `table` (sorted by memory) with at least that much.
 * `tooBig` says what to do when none is large enough.
 */
export function planForSize(
  table: readonly (readonly [number, string])[],
  size: number | string | undefined,
  tooBig: () => Error,
): string | undefined {
  if (typeof size === "string") return size;
  if (typeof size !== "number") return undefined;
  const entry = table.find(([mb]) => mb >= size);
  if (!entry) throw tooBig();
  return entry[1];
}
