/**
 * The EC2 provider, through the AWS SDK (@aws-sdk/client-ec2). A jarvis host is an instance tagged
 * Name=<hostname> and jarvis=managed; that tag pair is how a repeated deploy finds the instance it
 * made, and RunInstances carries a ClientToken derived from the host and the run, so a request
 * repeated after a crash cannot launch a second instance.
 */
import { createHash } from "node:crypto";
import {
  DescribeInstancesCommand,
  EC2Client,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import type { Filter, Instance } from "@aws-sdk/client-ec2";
import { ProviderError, ThrottledError } from "../errors.js";
import { pollUntil, scrub, withRetry } from "./retry.js";
import type { RetryPolicy, WaitPolicy } from "./retry.js";
import { planForSize } from "./provider.js";
import type { HostInfo, HostSpec, Provider } from "./provider.js";

/** The tag that marks instances jarvis manages. */
export const EC2_MANAGED_TAG = { Key: "jarvis", Value: "managed" } as const;

/** States of an instance that still exists (terminated ones stay visible for an hour). */
const LIVE_STATES = ["pending", "running", "stopping", "stopped"];

/** What the EC2 provider is configured with. */
export interface Ec2Options {
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** Endpoint URL, for tests and private endpoints; default: the region's public endpoint. */
  endpoint?: string;
  /** Defaults for designs that do not name them. */
  defaults: {
    instanceType?: string;
    imageId?: string;
    keyName?: string;
    subnetId?: string;
    securityGroupIds?: string[];
  };
  /** The design's guestid (e.g. debian-12) -> AMI id of the region; AMI ids pass as they are. */
  images?: Record<string, string>;
  /** Makes ClientTokens differ between runs (a token stays bound to its instance, even terminated). */
  runId: string;
  retry: RetryPolicy;
  wait: WaitPolicy;
  log(line: string): void;
}

/** Map an EC2 instance state name onto the provider-neutral states. */
export function ec2State(name: string | undefined): HostInfo["state"] {
  switch (name) {
    case "pending":
      return "provisioning";
    case "running":
      return "running";
    case "stopping":
    case "stopped":
      return "offline";
    case "shutting-down":
    case "terminated":
      return "deleted";
    default:
      return "unknown";
  }
}

/** Instance types by memory (MB), smallest first: a design's numeric `size` picks the first that fits. */
export const EC2_TYPES: readonly [number, string][] = [
  [512, "t3.nano"],
  [1024, "t3.micro"],
  [2048, "t3.small"],
  [4096, "t3.medium"],
  [8192, "t3.large"],
  [16384, "t3.xlarge"],
  [32768, "t3.2xlarge"],
];

/** The instance type for a design's size: memory in MB (smallest type with at least that) or a type name. */
export function ec2Type(size: number | string | undefined): string | undefined {
  return planForSize(
    EC2_TYPES,
    size,
    () =>
      new ProviderError(
        "E_PROVIDER_INPUT",
        `ec2: no t3 type has ${size} MB of memory; name an instance type in instance.plan (e.g. r6i.4xlarge)`,
      ),
  );
}

/** The AMI for a design's guestid: an ami- id as is, else looked up in the `images` parameter. */
export function ec2Image(
  guestid: string | undefined,
  images: Record<string, string> = {},
): string | undefined {
  if (guestid === undefined || guestid.startsWith("ami-")) return guestid;
  if (Object.hasOwn(images, guestid)) return images[guestid];
  throw new ProviderError(
    "E_PROVIDER_INPUT",
    `ec2: no AMI known for guestid '${guestid}'; use an ami- id or map it in modules.ec2.with.images (${guestid}: ami-...)`,
  );
}

/** An instance as jarvis sees it. */
export function ec2Info(i: Instance, label: string): HostInfo {
  const info: HostInfo = { id: i.InstanceId ?? "", label, state: ec2State(i.State?.Name) };
  const v4 = i.PublicIpAddress ?? i.PrivateIpAddress;
  if (v4) info.ipv4 = v4;
  const v6 = i.Ipv6Address ?? i.NetworkInterfaces?.flatMap((n) => n.Ipv6Addresses ?? [])[0]?.Ipv6Address;
  if (v6) info.ipv6 = v6;
  return info;
}

/** The idempotency token for launching `label` in run `runId` (at most 64 ASCII characters). */
export function clientToken(label: string, runId: string, attempt = 0): string {
  const digest = createHash("sha256").update(`${label}\0${runId}\0${attempt}`).digest("hex").slice(0, 32);
  return `jarvis-${digest}`;
}

/** Cloud-init user data that authorises the design's SSH keys for the default user and root. */
export function userData(keys: string[]): string | undefined {
  if (keys.length === 0) return undefined;
  const lines = [
    "#cloud-config",
    "disable_root: false",
    "ssh_authorized_keys:",
    ...keys.map((k) => `  - ${JSON.stringify(k)}`),
  ];
  return Buffer.from(`${lines.join("\n")}\n`).toString("base64");
}

/** EC2 hosts through the AWS SDK, with bounded retries and waits. */
export class Ec2Provider implements Provider {
  readonly name = "ec2";
  readonly newNodeAddresses = ["ipv4", "ipv6"] as const;
  private readonly opts: Ec2Options;
  private readonly client: EC2Client;

  constructor(opts: Ec2Options) {
    if (!opts.accessKeyId || !opts.secretAccessKey) {
      throw new ProviderError(
        "E_PROVIDER_AUTH",
        "ec2: no AWS credentials; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in modules.ec2.env of jarvis.yml",
      );
    }
    if (!/^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d{1,2}$/.test(opts.region)) {
      throw new ProviderError(
        "E_PROVIDER_INPUT",
        `ec2: '${opts.region}' is not an AWS region (like eu-west-1); set instance.region, modules.ec2.with.region or AWS_REGION`,
      );
    }
    this.opts = opts;
    this.client = new EC2Client({
      region: opts.region,
      endpoint: opts.endpoint,
      credentials: {
        accessKeyId: opts.accessKeyId,
        secretAccessKey: opts.secretAccessKey,
        sessionToken: opts.sessionToken,
      },
      // jarvis retries with its own bounds (retry.ts); the SDK's would multiply them.
      maxAttempts: 1,
    });
  }

  planCreate(spec: HostSpec): Record<string, unknown> {
    const imageId = ec2Image(spec.image, this.opts.images) ?? this.opts.defaults.imageId;
    const instanceType = ec2Type(spec.size) ?? this.opts.defaults.instanceType;
    if (!imageId) throw inputError("guestid", "AMI (e.g. ami-0abcdef1234567890)");
    if (!instanceType) throw inputError("size", "instance type (e.g. t3.micro)");
    return { label: spec.hostname, instance_type: instanceType, image: imageId, region: this.opts.region };
  }

  async deploy(spec: HostSpec, signal: AbortSignal): Promise<HostInfo> {
    let found = await this.findRaw(spec.hostname, signal);
    if (found) {
      this.opts.log(
        `ec2: ${spec.hostname} exists already (${found.InstanceId}, ${found.State?.Name}); not launching another`,
      );
    } else {
      const imageId = ec2Image(spec.image, this.opts.images) ?? this.opts.defaults.imageId;
      const instanceType = ec2Type(spec.size) ?? this.opts.defaults.instanceType;
      if (!imageId) throw inputError("guestid", "AMI (e.g. ami-0abcdef1234567890)");
      if (!instanceType) throw inputError("size", "instance type (e.g. t3.micro)");
      found = await this.launch(spec, imageId, instanceType, signal);
      this.opts.log(
        `ec2: launched ${spec.hostname} (${found.InstanceId}) in ${this.opts.region}, ${instanceType}, ${imageId}`,
      );
    }
    const id = found.InstanceId ?? "";
    if (found.State?.Name === "stopped" || found.State?.Name === "stopping") {
      await pollUntil(
        `ec2: ${spec.hostname} stopped`,
        async () => ((await this.byId(id, signal))?.State?.Name === "stopped" ? true : undefined),
        this.opts.wait,
        signal,
      );
      this.opts.log(`ec2: ${spec.hostname} is stopped; starting it`);
      await this.call(`start ${spec.hostname}`, signal, () =>
        this.client.send(new StartInstancesCommand({ InstanceIds: [id] }), { abortSignal: signal }),
      );
    }
    return pollUntil(
      `ec2: ${spec.hostname} running`,
      async () => {
        const i = await this.byId(id, signal);
        if (!i || ec2State(i.State?.Name) === "deleted") {
          throw new ProviderError(
            "E_PROVIDER_GONE",
            `ec2: ${spec.hostname} (${id}) was terminated while starting (${i?.StateReason?.Message ?? "no reason given"}); run deploy again`,
          );
        }
        return i.State?.Name === "running" && (i.PublicIpAddress ?? i.PrivateIpAddress)
          ? ec2Info(i, spec.hostname)
          : undefined;
      },
      this.opts.wait,
      signal,
    );
  }

  async find(label: string, signal: AbortSignal): Promise<HostInfo | undefined> {
    const i = await this.findRaw(label, signal);
    return i ? ec2Info(i, label) : undefined;
  }

  async powerOff(label: string, signal: AbortSignal): Promise<void> {
    const i = await this.findRaw(label, signal);
    if (!i?.InstanceId || i.State?.Name === "stopped") return;
    const id = i.InstanceId;
    await this.call(`stop ${label}`, signal, () =>
      this.client.send(new StopInstancesCommand({ InstanceIds: [id] }), { abortSignal: signal }),
    );
    await pollUntil(
      `ec2: ${label} stopped`,
      async () => {
        const state = (await this.byId(id, signal))?.State?.Name;
        return state === undefined || state === "stopped" || ec2State(state) === "deleted" ? true : undefined;
      },
      this.opts.wait,
      signal,
    );
  }

  async delete(label: string, signal: AbortSignal): Promise<void> {
    const i = await this.findRaw(label, signal);
    if (!i?.InstanceId) return;
    const id = i.InstanceId;
    await this.call(`terminate ${label}`, signal, () =>
      this.client.send(new TerminateInstancesCommand({ InstanceIds: [id] }), { abortSignal: signal }),
    );
  }

  async list(signal: AbortSignal): Promise<HostInfo[]> {
    const all = await this.describe(
      [
        { Name: `tag:${EC2_MANAGED_TAG.Key}`, Values: [EC2_MANAGED_TAG.Value] },
        { Name: "instance-state-name", Values: LIVE_STATES },
      ],
      signal,
    );
    return all.map((i) => ec2Info(i, i.Tags?.find((t) => t.Key === "Name")?.Value ?? i.InstanceId ?? "?"));
  }

  private async launch(
    spec: HostSpec,
    imageId: string,
    instanceType: string,
    signal: AbortSignal,
  ): Promise<Instance> {
    const az = /[a-z]$/.test(spec.region ?? "") ? spec.region : undefined;
    const tags = [
      { Key: "Name", Value: spec.hostname },
      { ...EC2_MANAGED_TAG },
      ...spec.tags.map((t) => ({ Key: `jarvis:${t}`, Value: "true" })),
    ];
    // A token reused after its instance was terminated replays that terminated instance: move on.
    for (let attempt = 0; attempt < 3; attempt++) {
      const res = await this.call(`launch ${spec.hostname}`, signal, () =>
        this.client.send(
          new RunInstancesCommand({
            ImageId: imageId,
            InstanceType: instanceType as never,
            MinCount: 1,
            MaxCount: 1,
            ClientToken: clientToken(spec.hostname, this.opts.runId, attempt),
            KeyName: this.opts.defaults.keyName,
            SubnetId: this.opts.defaults.subnetId,
            SecurityGroupIds: this.opts.defaults.securityGroupIds,
            Placement: az ? { AvailabilityZone: az } : undefined,
            UserData: userData(spec.sshPublicKeys),
            TagSpecifications: [{ ResourceType: "instance", Tags: tags }],
          }),
          { abortSignal: signal },
        ),
      );
      const i = res.Instances?.[0];
      if (!i?.InstanceId)
        throw new ProviderError(
          "E_PROVIDER_PROTOCOL",
          `ec2: RunInstances for ${spec.hostname} returned no instance`,
          { retryable: true },
        );
      if (ec2State(i.State?.Name) !== "deleted") return i;
    }
    throw new ProviderError(
      "E_PROVIDER_PROTOCOL",
      `ec2: launching ${spec.hostname} keeps returning terminated instances; retry the run`,
      { retryable: true },
    );
  }

  private async findRaw(label: string, signal: AbortSignal): Promise<Instance | undefined> {
    const found = await this.describe(
      [
        { Name: "tag:Name", Values: [label] },
        { Name: `tag:${EC2_MANAGED_TAG.Key}`, Values: [EC2_MANAGED_TAG.Value] },
        { Name: "instance-state-name", Values: LIVE_STATES },
      ],
      signal,
    );
    if (found.length > 1)
      this.opts.log(
        `ec2: ${found.length} instances are tagged Name=${label}; using ${found[0]?.InstanceId} — terminate the others`,
      );
    return found[0];
  }

  private async byId(id: string, signal: AbortSignal): Promise<Instance | undefined> {
    const res = await this.call(`describe ${id}`, signal, () =>
      this.client.send(new DescribeInstancesCommand({ InstanceIds: [id] }), { abortSignal: signal }),
    );
    return res.Reservations?.flatMap((r) => r.Instances ?? [])[0];
  }

  private async describe(filters: Filter[], signal: AbortSignal): Promise<Instance[]> {
    const out: Instance[] = [];
    let nextToken: string | undefined;
    // Bounded: 100 pages of 1000 instances each.
    for (let page = 0; page < 100; page++) {
      const token = nextToken;
      const res = await this.call("describe instances", signal, () =>
        this.client.send(
          new DescribeInstancesCommand({ Filters: filters, MaxResults: 1000, NextToken: token }),
          { abortSignal: signal },
        ),
      );
      out.push(...(res.Reservations ?? []).flatMap((r) => r.Instances ?? []));
      nextToken = res.NextToken;
      if (!nextToken) break;
    }
    return out;
  }

  private call<T>(what: string, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    return withRetry(
      `ec2: ${what}`,
      async () => {
        try {
          return await fn();
        } catch (err) {
          throw translateEc2Error(err, what, [
            this.opts.secretAccessKey,
            this.opts.accessKeyId,
            this.opts.sessionToken,
          ]);
        }
      },
      this.opts.retry,
      signal,
      this.opts.log,
    );
  }
}

/** Turn an AWS SDK error into a ProviderError that says whether to retry and what to fix. */
export function translateEc2Error(
  err: unknown,
  what: string,
  secrets: (string | undefined)[],
): ProviderError {
  if (err instanceof ProviderError) return err;
  const e = err as {
    name?: string;
    Code?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number };
    $retryable?: unknown;
    code?: string;
  };
  const code = e.Code ?? e.name ?? "Unknown";
  const status = e.$metadata?.httpStatusCode;
  const detail = scrub(e.message ?? "no detail", secrets);
  const msg = (text: string): string => scrub(`ec2: ${what}: ${text}`, secrets);
  if (code === "AbortError")
    return new ProviderError("E_PROVIDER_ABORTED", msg("abandoned: the step was stopped"), {
      retryable: true,
    });
  if (status === undefined && !e.Code) {
    return new ProviderError(
      "E_PROVIDER_UNREACHABLE",
      msg(`cannot reach the EC2 endpoint (${e.code ?? detail}); check endpoint/region and the network`),
      { retryable: true },
    );
  }
  if (/^(RequestLimitExceeded|Throttling|ThrottlingException)$/.test(code) || status === 429) {
    return new ThrottledError("E_PROVIDER_THROTTLED", msg(`throttled by EC2 (${code})`), undefined);
  }
  if (
    /^(InsufficientInstanceCapacity|Unavailable|ServiceUnavailable|InternalError|InternalFailure)$/.test(
      code,
    ) ||
    (status !== undefined && status >= 500)
  ) {
    return new ProviderError(
      "E_PROVIDER_UNAVAILABLE",
      msg(`EC2 failed (${code}, HTTP ${status ?? "?"}): ${detail}`),
      { retryable: true },
    );
  }
  if (
    /region/i.test(detail) &&
    /^(AuthFailure|SignatureDoesNotMatch|AuthorizationHeaderMalformed)$/.test(code)
  ) {
    return new ProviderError(
      "E_PROVIDER_INPUT",
      msg(
        `EC2 refused the region (${code}: ${detail}); set instance.region or modules.ec2.with.region to a region this account uses`,
      ),
    );
  }
  if (
    /^(AuthFailure|UnauthorizedOperation|InvalidClientTokenId|SignatureDoesNotMatch|OptInRequired|Blocked)$/.test(
      code,
    ) ||
    status === 401 ||
    status === 403
  ) {
    return new ProviderError(
      "E_PROVIDER_AUTH",
      msg(
        `AWS refused the credentials (${code}: ${detail}); check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in modules.ec2.env of jarvis.yml and the key's IAM permissions`,
      ),
    );
  }
  if (/LimitExceeded$|^VcpuLimitExceeded$|^MaxSpotInstanceCountExceeded$/.test(code)) {
    return new ProviderError(
      "E_PROVIDER_QUOTA",
      msg(
        `EC2 quota reached (${code}: ${detail}); request a limit increase in Service Quotas or terminate unused instances`,
      ),
    );
  }
  if (/^InvalidAMIID\./.test(code))
    return new ProviderError(
      "E_PROVIDER_INPUT",
      msg(`unknown image (${code}: ${detail}); fix instance.guestid (an AMI id of this region)`),
    );
  if (/^InvalidInstanceID\.NotFound$/.test(code))
    return new ProviderError("E_PROVIDER_NOT_FOUND", msg(`${code}: ${detail}`));
  if (/^InvalidKeyPair\./.test(code))
    return new ProviderError(
      "E_PROVIDER_INPUT",
      msg(`unknown key pair (${code}: ${detail}); fix modules.ec2.with.key_name`),
    );
  return new ProviderError(
    "E_PROVIDER_INPUT",
    msg(
      `EC2 refused the request (${code}: ${detail}); fix the design's instance fields (size, guestid, region)`,
    ),
  );
}

function inputError(field: string, what: string): ProviderError {
  return new ProviderError(
    "E_PROVIDER_INPUT",
    `ec2: the design names no ${what}; set instance.${field} or modules.ec2.with in jarvis.yml`,
  );
}
