/**
 * The built-in facts of this machine: os, kernel, arch, names, addresses, cpus, memory, disks,
 * and (when `facts.system` is on) installed packages and listening services. Each source is read
 * on its own; one that is missing (no dpkg, no /proc) leaves its fact out instead of failing all.
 */
import { execFile } from "node:child_process";
import { readFile, readdir, readlink, statfs } from "node:fs/promises";
import { arch, cpus, hostname, networkInterfaces, release, totalmem } from "node:os";
import { promisify } from "node:util";
import { lookup } from "node:dns/promises";
import type { FactValue, Facts } from "../inventory/node-view.js";

const run = promisify(execFile);

export async function systemFacts(options: { system: boolean }): Promise<Facts> {
  const host = hostname();
  const facts: Facts = {
    os: await osRelease(),
    kernel: release(),
    arch: arch(),
    hostname: host.split(".")[0]!,
    fqdn: await fqdn(host),
    ipaddresses: ipAddresses(),
    cpus: cpus().length,
    memory: { mb: Math.round(totalmem() / 1024 / 1024) },
    disks: await disks(),
  };
  if (options.system) {
    facts.packages = await packages();
    facts.services = await listening();
  }
  return facts;
}

/** `os: {family, release}` from /etc/os-release: family is ID_LIKE's first word, else ID. */
async function osRelease(): Promise<FactValue> {
  const text = await readFile("/etc/os-release", "utf8").catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return "";
    throw err;
  });
  const fields = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) fields.set(m[1]!, m[2]!.replace(/^"(.*)"$/, "$1"));
  }
  const id = fields.get("ID") ?? "unknown";
  const family = id === "debian" || id === "rhel" ? id : (fields.get("ID_LIKE")?.split(" ")[0] ?? id);
  return {
    family,
    name: id,
    release: fields.get("VERSION_ID") ?? "",
    codename: fields.get("VERSION_CODENAME") ?? "",
  };
}

async function fqdn(host: string): Promise<string> {
  if (host.includes(".")) return host;
  try {
    const { address } = await lookup(host);
    const { stdout } = await run("getent", ["hosts", address], { timeout: 2000 });
    const name = stdout
      .split(/\s+/)
      .slice(1)
      .find((n) => n.startsWith(`${host}.`));
    return name ?? host;
  } catch {
    // No resolver entry for our own name: the short name is all there is to report.
    return host;
  }
}

function ipAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .filter((a) => !a.internal)
    .map((a) => a.address);
}

async function disks(): Promise<FactValue> {
  const text = await readFile("/proc/mounts", "utf8").catch(() => "");
  const out: FactValue[] = [];
  for (const line of text.split("\n")) {
    const [device, mount] = line.split(" ");
    if (!device?.startsWith("/dev/") || !mount) continue;
    const s = await statfs(mount).catch(() => undefined);
    if (s) out.push({ device, mount, size_mb: Math.round((s.blocks * s.bsize) / 1024 / 1024) });
  }
  return out;
}

/** `{name: version}` from dpkg-query, else rpm; `{}` when neither is installed. */
async function packages(): Promise<Facts> {
  const tries: [string, string[]][] = [
    ["dpkg-query", ["-W", "-f", "${db:Status-Abbrev}\\t${Package}\\t${Version}\\n"]],
    ["rpm", ["-qa", "--qf", "ii \\t%{NAME}\\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\\n"]],
  ];
  for (const [cmd, args] of tries) {
    const out = await run(cmd, args, { maxBuffer: 64 * 1024 * 1024, timeout: 60_000 }).catch(() => undefined);
    if (!out) continue;
    const result: Facts = {};
    for (const line of out.stdout.split("\n")) {
      const [status, name, version] = line.split("\t");
      if (status?.startsWith("ii") && name && version) result[name] = version.replace(/^0:/, "");
    }
    return result;
  }
  return {};
}

/** Listening TCP sockets from /proc/net/tcp{,6}, with the owning process where /proc shows it. */
async function listening(): Promise<FactValue[]> {
  const byInode = new Map<string, { port: number; proto: string }>();
  for (const proto of ["tcp", "tcp6"]) {
    const text = await readFile(`/proc/net/${proto}`, "utf8").catch(() => "");
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] !== "0A") continue; // 0A: LISTEN
      const port = parseInt(cols[1]?.split(":")[1] ?? "", 16);
      if (Number.isFinite(port) && cols[9]) byInode.set(cols[9], { port, proto });
    }
  }
  const owner = await socketOwners(new Set(byInode.keys()));
  const seen = new Set<string>();
  const out: { port: number; proto: string; process: string | null }[] = [];
  for (const [inode, { port, proto }] of byInode) {
    const process = owner.get(inode) ?? null;
    const key = `${port}/${process}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ port, proto, process });
  }
  return out.sort((a, b) => a.port - b.port);
}

/** socket inode -> process name, for the processes whose fds we may read. */
async function socketOwners(inodes: Set<string>): Promise<Map<string, string>> {
  const owners = new Map<string, string>();
  if (inodes.size === 0) return owners;
  const pids = (await readdir("/proc").catch(() => [])).filter((p) => /^\d+$/.test(p));
  for (const pid of pids) {
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => []);
    for (const fd of fds) {
      const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "");
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m && inodes.has(m[1]!) && !owners.has(m[1]!)) {
        owners.set(m[1]!, (await readFile(`/proc/${pid}/comm`, "utf8").catch(() => "?")).trim());
      }
    }
  }
  return owners;
}
