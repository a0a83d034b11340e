/**
 * A local server speaking the Linode API v4 wire format (JSON over HTTP, per the published
 * reference at techdocs.akamai.com/linode-api): bearer-token auth, paged lists
 * `{data, page, pages, results}` with X-Filter, error bodies `{errors: [{reason, field}]}`, 401 for
 * a bad token, 429 with Retry-After. Instances go provisioning -> booting -> running, and
 * shutting_down -> offline, advancing each time a client looks at them (a few polls), so clients
 * exercise their waits. The real @linode/api-v4 SDK talks to it through its API root.
 *
 * With the `sshPort` option each Linode is reachable for real: its address is 127.0.0.1 and it
 * runs an OpenSSH sshd on that port (instance-sshd.ts) authorising its `authorized_keys`; it stays
 * `booting` until that sshd answers, and shutting down or deleting it stops the sshd.
 */
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { InstanceSshds } from "./instance-sshd.js";

/** One Linode as the server keeps it. */
export interface FakeLinode {
  id: number;
  label: string;
  region: string;
  type: string;
  image: string | null;
  status: string;
  ipv4: string[];
  ipv6: string;
  tags: string[];
  authorized_keys: string[];
  root_pass: string | undefined;
  created: string;
  updated: string;
  /** Status it moves to next and how many more looks until it does. */
  next: { status: string; after: number }[];
}

/** Options for the server. */
export interface LinodeApiOptions {
  /** The only accepted token. */
  token: string;
  /** Looks at an instance before each transition (default 2). */
  pollsPerTransition?: number;
  /** Most Linodes the account may hold (default 50). */
  instanceLimit?: number;
  /** Seconds sent in Retry-After on 429 (default 1). */
  retryAfterSeconds?: number;
  /** Give each running Linode a real sshd on 127.0.0.1 at this port (one running Linode at a time). */
  sshPort?: number;
}

/** A running server and its handles for tests. */
export interface LinodeApi {
  /** API root, e.g. http://127.0.0.1:PORT/v4 */
  url: string;
  instances: Map<number, FakeLinode>;
  /** Every request seen, "METHOD /path". */
  requests: string[];
  /** Authorization headers seen (to prove which token was sent). */
  authHeaders: string[];
  /** The instances' sshds when `sshPort` is set (their start errors explain a Linode stuck booting). */
  sshds: InstanceSshds | undefined;
  /** Answer the next `n` requests with 429 Too Many Requests. */
  throttle(n: number): void;
  /** Answer the next `n` requests with this 5xx status. */
  failNext(n: number, status?: number): void;
  close(): Promise<void>;
}

const REGIONS = ["us-east", "us-central", "us-west", "eu-west", "eu-central", "ap-south"];
const TYPES = ["g6-nanode-1", "g6-standard-1", "g6-standard-2", "g6-standard-4"];
const IMAGES = ["linode/debian12", "linode/debian11", "linode/ubuntu24.04", "linode/ubuntu22.04"];

/** Start the server on a free loopback port. */
export async function startLinodeApi(options: LinodeApiOptions): Promise<LinodeApi> {
  const polls = options.pollsPerTransition ?? 2;
  const instances = new Map<number, FakeLinode>();
  const requests: string[] = [];
  const authHeaders: string[] = [];
  let throttled = 0;
  let failing = 0;
  let failStatus = 503;
  let nextId = 1000;
  const sshds = options.sshPort === undefined ? undefined : new InstanceSshds(options.sshPort);

  const advance = (l: FakeLinode): void => {
    const step = l.next[0];
    if (!step) return;
    if (step.after > 1) {
      step.after--;
      return;
    }
    if (sshds && step.status === "running" && !sshds.isUp(String(l.id))) {
      // Running means SSH answers: keep booting until the Linode's sshd is up.
      sshds.ensure(String(l.id), l.authorized_keys);
      return;
    }
    l.status = step.status;
    l.updated = new Date().toISOString();
    l.next.shift();
  };
  const view = (l: FakeLinode): Record<string, unknown> => {
    const { next: _next, root_pass: _rp, authorized_keys: _keys, ...rest } = l;
    return {
      ...rest,
      group: "",
      hypervisor: "kvm",
      specs: { disk: 25600, memory: 1024, vcpus: 1, transfer: 1000 },
      backups: { enabled: false },
      watchdog_enabled: true,
    };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://localhost");
    requests.push(`${req.method} ${url.pathname}`);
    authHeaders.push(String(req.headers.authorization ?? ""));
    const send = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { "Content-Type": "application/json", ...headers });
      res.end(JSON.stringify(body));
    };
    const fail = (status: number, reason: string, field?: string): void =>
      send(status, { errors: [field ? { field, reason } : { reason }] });
    const m = /^\/v4(?:beta)?(\/.*)$/.exec(url.pathname);
    if (!m) return fail(404, "Not found");
    if (throttled > 0) {
      throttled--;
      return send(
        429,
        { errors: [{ reason: "Too Many Requests" }] },
        { "Retry-After": String(options.retryAfterSeconds ?? 1) },
      );
    }
    if (failing > 0) {
      failing--;
      return fail(failStatus, "Please try again later");
    }
    if (req.headers.authorization !== `Bearer ${options.token}`) return fail(401, "Invalid Token");
    const path = m[1]!;
    const body = req.method === "POST" || req.method === "PUT" ? await readJson(req) : {};
    if (body === undefined) return fail(400, "Malformed JSON");

    if (path === "/linode/instances" && req.method === "GET") {
      let list = [...instances.values()];
      list.forEach(advance);
      const filter = parseFilter(req.headers["x-filter"]);
      if (filter === undefined) return fail(400, "Cannot parse X-Filter header");
      for (const [key, want] of Object.entries(filter)) {
        if (key === "tags") list = list.filter((l) => l.tags.includes(String(want)));
        else if (key === "label" || key === "region" || key === "status" || key === "type")
          list = list.filter((l) => l[key] === want);
        else return fail(400, `Cannot filter on ${key}`, "X-Filter");
      }
      const pageSize = Math.min(Math.max(Number(url.searchParams.get("page_size") ?? 100), 25), 500);
      const page = Math.max(Number(url.searchParams.get("page") ?? 1), 1);
      const pages = Math.max(Math.ceil(list.length / pageSize), 1);
      if (page > pages) return fail(400, `Page ${page} is out of range (1-${pages})`, "page");
      return send(200, {
        data: list.slice((page - 1) * pageSize, page * pageSize).map(view),
        page,
        pages,
        results: list.length,
      });
    }
    if (path === "/linode/instances" && req.method === "POST") {
      const b = body as Record<string, unknown>;
      if (typeof b.type !== "string" || !TYPES.includes(b.type))
        return fail(400, "A valid plan type by that ID was not found", "type");
      if (typeof b.region !== "string" || !REGIONS.includes(b.region))
        return fail(400, "region is not valid", "region");
      if (b.image !== undefined && (typeof b.image !== "string" || !IMAGES.includes(b.image)))
        return fail(400, "Not a valid image ID", "image");
      if (b.image !== undefined && (typeof b.root_pass !== "string" || b.root_pass.length < 11))
        return fail(400, "root_pass is required and must be at least 11 characters", "root_pass");
      const label = typeof b.label === "string" ? b.label : `linode${nextId}`;
      if (!/^[a-zA-Z0-9][a-zA-Z0-9._-]{1,62}[a-zA-Z0-9]$/.test(label))
        return fail(
          400,
          "Label must contain only letters, digits, '-', '_' and '.', 3-64 characters",
          "label",
        );
      if ([...instances.values()].some((l) => l.label === label))
        return fail(400, "Label must be unique among your Linodes", "label");
      if (instances.size >= (options.instanceLimit ?? 50))
        return fail(400, "Account Limit reached. Please open a support ticket.");
      const id = nextId++;
      const now = new Date().toISOString();
      const l: FakeLinode = {
        id,
        label,
        region: b.region,
        type: b.type,
        image: typeof b.image === "string" ? b.image : null,
        status: "provisioning",
        ipv4: [sshds ? "127.0.0.1" : `203.0.113.${(id % 250) + 1}`],
        ipv6: `2001:db8::${id.toString(16)}/128`,
        tags: Array.isArray(b.tags) ? b.tags.map(String) : [],
        authorized_keys: Array.isArray(b.authorized_keys) ? b.authorized_keys.map(String) : [],
        root_pass: typeof b.root_pass === "string" ? b.root_pass : undefined,
        created: now,
        updated: now,
        next:
          b.booted === false
            ? [{ status: "offline", after: polls }]
            : [
                { status: "booting", after: polls },
                { status: "running", after: polls },
              ],
      };
      instances.set(id, l);
      return send(200, view(l));
    }
    const one = /^\/linode\/instances\/(\d+)(\/(boot|shutdown|reboot))?$/.exec(path);
    const l = one ? instances.get(Number(one[1])) : undefined;
    if (!one) return fail(404, "Not found");
    if (!l) return fail(404, "Not found");
    const action = one[3];
    if (!action && req.method === "GET") {
      advance(l);
      return send(200, view(l));
    }
    if (!action && req.method === "DELETE") {
      instances.delete(l.id);
      await sshds?.stop(String(l.id));
      return send(200, {});
    }
    if (action === "shutdown" && req.method === "POST") {
      if (l.status === "running" || l.status === "booting") {
        l.status = "shutting_down";
        l.next = [{ status: "offline", after: polls }];
        await sshds?.stop(String(l.id));
      }
      return send(200, {});
    }
    if ((action === "boot" || action === "reboot") && req.method === "POST") {
      if (l.status === "offline" || action === "reboot") {
        l.status = action === "boot" ? "booting" : "rebooting";
        l.next = [{ status: "running", after: polls }];
      }
      return send(200, {});
    }
    return fail(405, "Method Not Allowed");
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      res.writeHead(500, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ errors: [{ reason: String(err) }] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = address && typeof address === "object" ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/v4`,
    instances,
    requests,
    authHeaders,
    sshds,
    throttle: (n) => {
      throttled = n;
    },
    failNext: (n, status = 503) => {
      failing = n;
      failStatus = status;
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

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  if (text === "") return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function parseFilter(header: string | string[] | undefined): Record<string, unknown> | undefined {
  if (header === undefined) return {};
  try {
    const parsed = JSON.parse(String(header)) as unknown;
    return parsed && typeof parsed === "object" && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
