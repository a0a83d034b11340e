/**
 * A local server speaking the EC2 Query API (version 2016-11-15, per the published EC2 API
 * reference): POST form-encoded `Action=...&Version=2016-11-15`, Signature Version 4 checked
 * against the configured key pair, XML responses in the `http://ec2.amazonaws.com/doc/2016-11-15/`
 * namespace, errors as `<Response><Errors><Error><Code>..</Code><Message>..</Message></Error>
 * </Errors><RequestID>..</RequestID></Response>` (AuthFailure, RequestLimitExceeded,
 * InvalidParameterValue, InvalidAMIID.NotFound, InstanceLimitExceeded, ...). Instances go
 * pending -> running, stopping -> stopped, shutting-down -> terminated, a few polls per change;
 * RunInstances honours ClientToken idempotency. The real @aws-sdk/client-ec2 reaches it through
 * its `endpoint` setting.
 *
 * With the `sshPort` option each instance is reachable for real: its public address is 127.0.0.1
 * and it runs an OpenSSH sshd on that port (instance-sshd.ts) authorising the keys of its
 * cloud-init user data (`ssh_authorized_keys`); it stays `pending` until that sshd answers, and
 * stopping or terminating it stops the sshd.
 */
import { createHash, createHmac, randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { InstanceSshds } from "./instance-sshd.js";

const NS = "http://ec2.amazonaws.com/doc/2016-11-15/";
const STATE_CODES: Record<string, number> = {
  pending: 0,
  running: 16,
  "shutting-down": 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

/** One instance as the server keeps it. */
export interface FakeInstance {
  instanceId: string;
  reservationId: string;
  imageId: string;
  instanceType: string;
  state: string;
  next: { state: string; after: number }[];
  privateIp: string;
  publicIp: string;
  keyName: string | undefined;
  availabilityZone: string;
  userData: string | undefined;
  clientToken: string | undefined;
  tags: Map<string, string>;
  launchTime: string;
}

/** Options for the server. */
export interface Ec2ApiOptions {
  accessKeyId: string;
  secretAccessKey: string;
  /** The region this endpoint serves (default us-east-1). */
  region?: string;
  pollsPerTransition?: number;
  /** Most live instances the account may run (default 20). */
  instanceLimit?: number;
  /** Known AMIs (default ami-0123456789abcdef0). */
  images?: string[];
  /** Give each running instance a real sshd on 127.0.0.1 at this port (one running instance at a time). */
  sshPort?: number;
}

/** A running server and its handles for tests. */
export interface Ec2Api {
  url: string;
  region: string;
  instances: Map<string, FakeInstance>;
  /** The Action of every request, in order. */
  actions: string[];
  /** The instances' sshds when `sshPort` is set (their start errors explain an instance stuck pending). */
  sshds: InstanceSshds | undefined;
  /** Answer the next `n` requests with RequestLimitExceeded (HTTP 503). */
  throttle(n: number): void;
  close(): Promise<void>;
}

const TYPES = ["t3.micro", "t3.small", "t3.medium", "m5.large", "c5.large"];

/** Start the server on a free loopback port. */
export async function startEc2Api(options: Ec2ApiOptions): Promise<Ec2Api> {
  const region = options.region ?? "us-east-1";
  const polls = options.pollsPerTransition ?? 2;
  const images = options.images ?? ["ami-0123456789abcdef0"];
  const instances = new Map<string, FakeInstance>();
  const tokens = new Map<string, string>();
  const actions: string[] = [];
  let throttled = 0;
  let seq = 1;
  const sshds = options.sshPort === undefined ? undefined : new InstanceSshds(options.sshPort);

  const advance = (i: FakeInstance): void => {
    const step = i.next[0];
    if (!step) return;
    if (step.after > 1) {
      step.after--;
      return;
    }
    if (sshds && step.state === "running" && !sshds.isUp(i.instanceId)) {
      // Running means SSH answers: stay pending until the instance's sshd is up.
      sshds.ensure(i.instanceId, authorizedKeys(i.userData));
      return;
    }
    i.state = step.state;
    i.next.shift();
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readBody(req);
    const form = new URLSearchParams(body);
    const action = form.get("Action") ?? "";
    actions.push(action);
    const requestId = randomUUID();
    const xml = (status: number, text: string): void => {
      res.writeHead(status, { "Content-Type": "text/xml;charset=UTF-8" });
      res.end(`<?xml version="1.0" encoding="UTF-8"?>\n${text}`);
    };
    const error = (status: number, code: string, message: string): void =>
      xml(
        status,
        `<Response><Errors><Error><Code>${code}</Code><Message>${esc(message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`,
      );
    const ok = (name: string, inner: string): void =>
      xml(
        200,
        `<${name}Response xmlns="${NS}"><requestId>${requestId}</requestId>${inner}</${name}Response>`,
      );

    if (req.method !== "POST")
      return error(400, "InvalidAction", "The EC2 Query API takes POST requests here");
    const auth = checkSignature(req, body, options, region);
    if (auth) return error(401, "AuthFailure", auth);
    if (throttled > 0) {
      throttled--;
      return error(503, "RequestLimitExceeded", "Request limit exceeded.");
    }
    if (form.get("Version") !== "2016-11-15")
      return error(400, "InvalidParameterValue", `Unsupported Version '${form.get("Version")}'`);
    const ids = list(form, "InstanceId");

    switch (action) {
      case "RunInstances": {
        const token = form.get("ClientToken") ?? undefined;
        const replay = token ? tokens.get(token) : undefined;
        if (replay) {
          const existing = [...instances.values()].filter((i) => i.reservationId === replay);
          return ok("RunInstances", reservation(replay, existing));
        }
        const imageId = form.get("ImageId") ?? "";
        const type = form.get("InstanceType") ?? "m1.small";
        if (!/^ami-[0-9a-f]{8,17}$/.test(imageId))
          return error(400, "InvalidAMIID.Malformed", `Invalid id: "${imageId}" (expecting "ami-...")`);
        if (!images.includes(imageId))
          return error(400, "InvalidAMIID.NotFound", `The image id '[${imageId}]' does not exist`);
        if (!TYPES.includes(type))
          return error(400, "InvalidParameterValue", `Invalid value '${type}' for InstanceType.`);
        const live = [...instances.values()].filter((i) => i.state !== "terminated").length;
        if (live >= (options.instanceLimit ?? 20)) {
          return error(
            400,
            "InstanceLimitExceeded",
            `You have requested more instances (${live + 1}) than your current instance limit of ${options.instanceLimit ?? 20} allows for the specified instance type.`,
          );
        }
        const az = form.get("Placement.AvailabilityZone") ?? `${region}a`;
        if (!az.startsWith(region))
          return error(400, "InvalidParameterValue", `Invalid availability zone: [${az}]`);
        const reservationId = `r-${hex(seq, 17)}`;
        const n = seq++;
        const tags = new Map<string, string>();
        for (let s = 1; form.has(`TagSpecification.${s}.ResourceType`); s++) {
          for (let t = 1; form.has(`TagSpecification.${s}.Tag.${t}.Key`); t++)
            tags.set(
              form.get(`TagSpecification.${s}.Tag.${t}.Key`)!,
              form.get(`TagSpecification.${s}.Tag.${t}.Value`) ?? "",
            );
        }
        const inst: FakeInstance = {
          instanceId: `i-${hex(n, 17)}`,
          reservationId,
          imageId,
          instanceType: type,
          state: "pending",
          next: [{ state: "running", after: polls }],
          privateIp: `10.0.0.${(n % 250) + 2}`,
          publicIp: sshds ? "127.0.0.1" : `198.51.100.${(n % 250) + 2}`,
          keyName: form.get("KeyName") ?? undefined,
          availabilityZone: az,
          userData: form.get("UserData") ?? undefined,
          clientToken: token,
          tags,
          launchTime: new Date().toISOString(),
        };
        instances.set(inst.instanceId, inst);
        if (token) tokens.set(token, reservationId);
        return ok("RunInstances", reservation(reservationId, [inst]));
      }
      case "DescribeInstances": {
        const unknown = ids.find((id) => !instances.has(id));
        if (unknown)
          return error(400, "InvalidInstanceID.NotFound", `The instance ID '${unknown}' does not exist`);
        let found = ids.length > 0 ? ids.map((id) => instances.get(id)!) : [...instances.values()];
        for (let f = 1; form.has(`Filter.${f}.Name`); f++) {
          const name = form.get(`Filter.${f}.Name`)!;
          const values = list(form, `Filter.${f}.Value`);
          if (name === "instance-state-name") found = found.filter((i) => values.includes(i.state));
          else if (name.startsWith("tag:"))
            found = found.filter((i) => values.includes(i.tags.get(name.slice(4)) ?? "\0"));
          else if (name === "tag-key") found = found.filter((i) => values.some((v) => i.tags.has(v)));
          else return error(400, "InvalidParameterValue", `The filter '${name}' is invalid`);
        }
        found.forEach(advance);
        const byReservation = new Map<string, FakeInstance[]>();
        for (const i of found)
          byReservation.set(i.reservationId, [...(byReservation.get(i.reservationId) ?? []), i]);
        const items = [...byReservation]
          .map(([r, list]) => `<item>${reservationInner(r, list)}</item>`)
          .join("");
        return ok("DescribeInstances", `<reservationSet>${items}</reservationSet>`);
      }
      case "StopInstances":
      case "StartInstances":
      case "TerminateInstances": {
        if (ids.length === 0)
          return error(400, "MissingParameter", "The request must contain the parameter InstanceId");
        const unknown = ids.find((id) => !instances.has(id));
        if (unknown)
          return error(400, "InvalidInstanceID.NotFound", `The instance ID '${unknown}' does not exist`);
        const changes = ids.map((id) => {
          const i = instances.get(id)!;
          const previous = i.state;
          if (action === "StopInstances" && (i.state === "running" || i.state === "pending"))
            [i.state, i.next] = ["stopping", [{ state: "stopped", after: polls }]];
          if (action === "StartInstances" && i.state === "stopped")
            [i.state, i.next] = ["pending", [{ state: "running", after: polls }]];
          if (action === "TerminateInstances" && i.state !== "terminated")
            [i.state, i.next] = ["shutting-down", [{ state: "terminated", after: polls }]];
          return `<item><instanceId>${id}</instanceId>${stateXml("currentState", i.state)}${stateXml("previousState", previous)}</item>`;
        });
        if (action !== "StartInstances") for (const id of ids) await sshds?.stop(id);
        return ok(action, `<instancesSet>${changes.join("")}</instancesSet>`);
      }
      case "CreateTags": {
        const resources = list(form, "ResourceId");
        const unknown = resources.find((id) => !instances.has(id));
        if (unknown)
          return error(400, "InvalidInstanceID.NotFound", `The instance ID '${unknown}' does not exist`);
        for (const id of resources) {
          for (let t = 1; form.has(`Tag.${t}.Key`); t++)
            instances.get(id)!.tags.set(form.get(`Tag.${t}.Key`)!, form.get(`Tag.${t}.Value`) ?? "");
        }
        return ok("CreateTags", "<return>true</return>");
      }
      default:
        return error(400, "InvalidAction", `The action ${action} is not valid for this web service.`);
    }
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      res.writeHead(500, { "Content-Type": "text/xml" });
      res.end(
        `<Response><Errors><Error><Code>InternalError</Code><Message>${esc(String(err))}</Message></Error></Errors></Response>`,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = address && typeof address === "object" ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    region,
    instances,
    actions,
    sshds,
    throttle: (n) => {
      throttled = n;
    },
    close: async () => {
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      await sshds?.stopAll();
    },
  };
}

/** Verify AWS Signature Version 4; undefined when valid, else the AuthFailure message. */
function checkSignature(
  req: IncomingMessage,
  body: string,
  options: Ec2ApiOptions,
  region: string,
): string | undefined {
  const header = String(req.headers.authorization ?? "");
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(
      header,
    );
  if (!m) return "AWS was not able to validate the provided access credentials";
  const [, keyId, date, scopeRegion, service, signedHeaders, signature] = m as unknown as string[];
  if (keyId !== options.accessKeyId) return "AWS was not able to validate the provided access credentials";
  if (scopeRegion !== region) return `Credential should be scoped to a valid region, not '${scopeRegion}'.`;
  const amzDate = String(req.headers["x-amz-date"] ?? "");
  const headers = signedHeaders!.split(";");
  const canonicalHeaders = headers
    .map(
      (h) =>
        `${h}:${String(req.headers[h] ?? "")
          .trim()
          .replace(/\s+/g, " ")}\n`,
    )
    .join("");
  const url = new URL(req.url ?? "/", "http://localhost");
  const query = [...url.searchParams]
    .map(([k, v]) => `${enc(k)}=${enc(v)}`)
    .sort()
    .join("&");
  const payloadHash = String(req.headers["x-amz-content-sha256"] ?? sha256(body));
  const canonical = [req.method, url.pathname, query, canonicalHeaders, signedHeaders, payloadHash].join(
    "\n",
  );
  const scope = `${date}/${scopeRegion}/${service}/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256(canonical)].join("\n");
  let key: Buffer = hmac(`AWS4${options.secretAccessKey}`, date!);
  for (const part of [scopeRegion!, service!, "aws4_request"]) key = hmac(key, part);
  const expected = createHmac("sha256", key).update(toSign).digest("hex");
  return expected === signature ? undefined : "AWS was not able to validate the provided access credentials";
}

/** The `ssh_authorized_keys` of a base64 cloud-config user data (as ec2.ts writes it). */
function authorizedKeys(userData: string | undefined): string[] {
  if (!userData) return [];
  const text = Buffer.from(userData, "base64").toString("utf8");
  const keys: string[] = [];
  let inList = false;
  for (const line of text.split("\n")) {
    if (/^ssh_authorized_keys:\s*$/.test(line)) inList = true;
    else if (inList && /^\s+-\s+/.test(line)) {
      const item = line.replace(/^\s+-\s+/, "").trim();
      keys.push(item.startsWith('"') ? (JSON.parse(item) as string) : item);
    } else if (!/^\s/.test(line)) inList = false;
  }
  return keys;
}

function reservation(reservationId: string, list: FakeInstance[]): string {
  return reservationInner(reservationId, list);
}

function reservationInner(reservationId: string, list: FakeInstance[]): string {
  return `<reservationId>${reservationId}</reservationId><ownerId>123456789012</ownerId><groupSet/><instancesSet>${list.map(instanceXml).join("")}</instancesSet>`;
}

function instanceXml(i: FakeInstance): string {
  const hasPublic = i.state === "running";
  const tags = [...i.tags]
    .map(([k, v]) => `<item><key>${esc(k)}</key><value>${esc(v)}</value></item>`)
    .join("");
  return (
    `<item><instanceId>${i.instanceId}</instanceId><imageId>${i.imageId}</imageId>${stateXml("instanceState", i.state)}` +
    `<privateDnsName>ip-${i.privateIp.replace(/\./g, "-")}.ec2.internal</privateDnsName><dnsName/>` +
    (i.keyName ? `<keyName>${esc(i.keyName)}</keyName>` : "") +
    `<amiLaunchIndex>0</amiLaunchIndex><instanceType>${i.instanceType}</instanceType><launchTime>${i.launchTime}</launchTime>` +
    `<placement><availabilityZone>${i.availabilityZone}</availabilityZone><tenancy>default</tenancy></placement>` +
    `<privateIpAddress>${i.privateIp}</privateIpAddress>` +
    (hasPublic ? `<ipAddress>${i.publicIp}</ipAddress>` : "") +
    (i.clientToken ? `<clientToken>${esc(i.clientToken)}</clientToken>` : "") +
    `<tagSet>${tags}</tagSet></item>`
  );
}

function stateXml(name: string, state: string): string {
  return `<${name}><code>${STATE_CODES[state] ?? 0}</code><name>${state}</name></${name}>`;
}

function list(form: URLSearchParams, prefix: string): string[] {
  const out: string[] = [];
  for (let n = 1; form.has(`${prefix}.${n}`); n++) out.push(form.get(`${prefix}.${n}`)!);
  return out;
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, "0");
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function enc(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function sha256(s: string): string {
  return createHash("sha256").update(s).digest("hex");
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac("sha256", key).update(data).digest();
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
