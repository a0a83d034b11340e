/**
 * The local provider: a "host" that really exists on this machine, namely an sshd of its own on a
 * loopback address and port, with its own host key, authorised keys and directory under the state
 * dir (`.state/local/<label>/`). The sshd is started detached so it outlives the step and jarvis;
 * its pid and port are kept in the host's directory, so state survives restarts. jarvis's agent,
 * once agent:install put it there, runs beside it from the host's home (LOCAL_AGENT_DIR) and is
 * stopped with it.
 */
import { execFile, spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  openSync,
  closeSync,
} from "node:fs";
import { connect, createServer } from "node:net";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { ProviderError } from "../errors.js";
import type { HostInfo, HostSpec, Provider } from "./provider.js";

const run = promisify(execFile);

/** The agent's directory under a local host's home, and its pid file there (workers/agent-layout.ts). */
export const LOCAL_AGENT_DIR = "jarvis-agent";
export const LOCAL_AGENT_PID = "agent.pid";

/** Settings of the local provider (jarvis.yml `modules.local.with`). */
export interface LocalProviderOptions {
  /** Directory holding one sub-directory per host. */
  stateDir: string;
  /** Public key line of jarvis's deploy key, authorised on every host. */
  deployPublicKey: string;
  /** Loopback address the hosts' sshd listen on. */
  address: string;
  /** The sshd binary (absolute: sshd refuses to re-exec otherwise). */
  sshd: string;
}

/** What is kept about a host in `<dir>/host.json`. */
interface HostRecord {
  id: string;
  label: string;
  address: string;
  port: number;
  created: string;
}

/** The sshd_config for a host whose files live in `dir` (exported for test servers). */
export function sshdConfig(dir: string, address: string, port: number): string {
  return [
    `# written by jarvis's local provider; regenerated on every deploy`,
    `Port ${port}`,
    `ListenAddress ${address}`,
    `HostKey ${resolve(dir, "ssh_host_ed25519_key")}`,
    `PidFile ${resolve(dir, "sshd.pid")}`,
    `AuthorizedKeysFile ${resolve(dir, "authorized_keys")}`,
    // The host's files live in jarvis's state dir, not in a home directory sshd would vet.
    "StrictModes no",
    "UsePAM no",
    "PermitRootLogin prohibit-password",
    "PubkeyAuthentication yes",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "X11Forwarding no",
    "AllowTcpForwarding no",
    // Sessions get the host's own home, so per-host files (root's keypair) stay in its directory.
    `SetEnv HOME=${resolve(dir, "home")}`,
    "",
  ].join("\n");
}

/** Host labels become directory names: keep them to DNS labels. */
const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

/** The local provider. */
export class LocalProvider implements Provider {
  readonly name = "local";
  readonly newNodeAddresses = ["ipv4"] as const;
  constructor(private readonly options: LocalProviderOptions) {}

  planCreate(spec: HostSpec): Record<string, unknown> {
    if (!existsSync(this.options.sshd)) {
      throw new ProviderError(
        "E_LOCAL_NO_SSHD",
        `local: ${this.options.sshd} not found; the local provider needs OpenSSH's server: apt-get install openssh-server (or set modules.local.with.sshd)`,
      );
    }
    return { label: spec.hostname, address: this.options.address, state_dir: this.dirOf(spec.hostname) };
  }

  async deploy(spec: HostSpec, signal: AbortSignal): Promise<HostInfo> {
    const dir = this.dirOf(spec.hostname);
    if (!existsSync(this.options.sshd)) {
      throw new ProviderError(
        "E_LOCAL_NO_SSHD",
        `local: ${this.options.sshd} not found; the local provider needs OpenSSH's server: apt-get install openssh-server (or set modules.local.with.sshd)`,
      );
    }
    mkdirSync(resolve(dir, "home"), { recursive: true, mode: 0o700 });
    const hostKey = resolve(dir, "ssh_host_ed25519_key");
    if (!existsSync(hostKey)) {
      await run("ssh-keygen", [
        "-q",
        "-t",
        "ed25519",
        "-N",
        "",
        "-C",
        `${spec.hostname}-host`,
        "-f",
        hostKey,
      ]);
    }
    const keys = [this.options.deployPublicKey, ...spec.sshPublicKeys]
      .map((k) => k.trim())
      .filter((k) => k !== "");
    writeFileSync(resolve(dir, "authorized_keys"), `${[...new Set(keys)].join("\n")}\n`, { mode: 0o600 });
    let record = this.readRecord(spec.hostname);
    if (!record) {
      record = {
        id: `local-${spec.hostname}`,
        label: spec.hostname,
        address: this.options.address,
        port: await freePort(this.options.address),
        created: new Date().toISOString(),
      };
      this.writeRecord(record);
    }
    if (this.runningPid(spec.hostname) !== undefined) return this.info(record, "running");
    try {
      await this.start(dir, record, signal);
    } catch (err) {
      if (!(err instanceof ProviderError) || err.code !== "E_LOCAL_PORT_BUSY") throw err;
      // Another program took the port while the host was off: move the host to a free one.
      record = { ...record, port: await freePort(record.address) };
      this.writeRecord(record);
      await this.start(dir, record, signal);
    }
    return this.info(record, "running");
  }

  async find(label: string): Promise<HostInfo | undefined> {
    const record = this.readRecord(label);
    if (!record) return undefined;
    return this.info(record, this.runningPid(label) !== undefined ? "running" : "offline");
  }

  async powerOff(label: string): Promise<void> {
    await this.stopAgent(label);
    const pid = this.runningPid(label);
    if (pid === undefined) return;
    await stopProcess(pid);
    rmSync(resolve(this.dirOf(label), "sshd.pid"), { force: true });
  }

  /** The host's agent goes down with the host: its heartbeats stop and jarvis marks it offline. */
  private async stopAgent(label: string): Promise<void> {
    const agentDir = resolve(this.dirOf(label), "home", LOCAL_AGENT_DIR);
    const pidFile = resolve(agentDir, LOCAL_AGENT_PID);
    const pid = pidFrom(pidFile, resolve(agentDir, "agent.yml"));
    if (pid !== undefined) await stopProcess(pid, 150);
    rmSync(pidFile, { force: true });
  }

  async delete(label: string): Promise<void> {
    await this.powerOff(label);
    rmSync(this.dirOf(label), { recursive: true, force: true });
  }

  async list(): Promise<HostInfo[]> {
    if (!existsSync(this.options.stateDir)) return [];
    const out: HostInfo[] = [];
    for (const name of readdirSync(this.options.stateDir).sort()) {
      if (!LABEL.test(name)) continue;
      const info = await this.find(name);
      if (info) out.push(info);
    }
    return out;
  }

  private async start(dir: string, record: HostRecord, signal: AbortSignal): Promise<void> {
    const config = resolve(dir, "sshd_config");
    writeFileSync(config, sshdConfig(dir, record.address, record.port));
    // sshd refuses to start without its privilege separation directory; the Debian service
    // creates it at boot, so a machine where sshd never ran as a service lacks it.
    if (!existsSync("/run/sshd") && process.getuid?.() === 0) mkdirSync("/run/sshd", { mode: 0o755 });
    const logFile = resolve(dir, "sshd.log");
    rmSync(logFile, { force: true });
    const out = openSync(logFile, "a");
    // -D keeps the pid we spawn as the daemon's pid; detached + unref lets it outlive the step.
    const child = spawn(this.options.sshd, ["-D", "-f", config, "-E", logFile], {
      detached: true,
      stdio: ["ignore", out, out],
    });
    closeSync(out);
    child.unref();
    let exited = false;
    child.once("exit", () => (exited = true));
    child.once("error", () => (exited = true));
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && !signal.aborted) {
      if (exited) break;
      if (await accepts(record.address, record.port)) return;
      await sleep(50);
    }
    const log = existsSync(logFile)
      ? readFileSync(logFile, "utf8").trim().split("\n").slice(-3).join(" | ")
      : "";
    if (!exited && child.pid !== undefined) process.kill(child.pid, "SIGKILL");
    if (/Address already in use/.test(log)) {
      throw new ProviderError(
        "E_LOCAL_PORT_BUSY",
        `local: port ${record.port} on ${record.address} is taken`,
      );
    }
    if (/privilege separation directory/i.test(log)) {
      throw new ProviderError(
        "E_LOCAL_SSHD",
        `local: sshd for ${record.label} needs /run/sshd: create it as root (mkdir -m 755 /run/sshd)`,
      );
    }
    throw new ProviderError(
      "E_LOCAL_SSHD",
      `local: sshd for ${record.label} did not start on ${record.address}:${record.port}: ${log || "no log"} (see ${logFile})`,
      { retryable: signal.aborted },
    );
  }

  private info(record: HostRecord, state: HostInfo["state"]): HostInfo {
    return { id: record.id, label: record.label, state, ipv4: record.address, sshPort: record.port };
  }

  private dirOf(label: string): string {
    if (!LABEL.test(label)) {
      throw new ProviderError(
        "E_LOCAL_LABEL",
        `local: host name '${label}' is not a DNS label (letters, digits, '-'); fix instance.hostname in the design`,
      );
    }
    return resolve(this.options.stateDir, label.toLowerCase());
  }

  private readRecord(label: string): HostRecord | undefined {
    const file = resolve(this.dirOf(label), "host.json");
    if (!existsSync(file)) return undefined;
    try {
      return JSON.parse(readFileSync(file, "utf8")) as HostRecord;
    } catch (err) {
      throw new ProviderError(
        "E_LOCAL_STATE",
        `local: ${file} is corrupt (${String(err)}); delete the host (local:delete) or the file`,
        { cause: err },
      );
    }
  }

  private writeRecord(record: HostRecord): void {
    writeFileSync(resolve(this.dirOf(record.label), "host.json"), `${JSON.stringify(record, null, 2)}\n`);
  }

  /** The pid of the host's sshd if it is running (and really is that sshd, not a reused pid). */
  private runningPid(label: string): number | undefined {
    const dir = this.dirOf(label);
    return pidFrom(resolve(dir, "sshd.pid"), resolve(dir, "sshd_config"));
  }
}

/** The live process in `pidFile` whose command line names `mark`, if any (pids get reused). */
function pidFrom(pidFile: string, mark: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, "utf8").trim());
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return undefined;
  try {
    if (!readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(mark)) return undefined;
  } catch {
    return undefined;
  }
  return pid;
}

/** SIGTERM, then SIGKILL after `rounds` waits of 50 ms. */
async function stopProcess(pid: number, rounds = 100): Promise<void> {
  process.kill(pid, "SIGTERM");
  for (let i = 0; i < rounds && alive(pid); i++) await sleep(50);
  if (alive(pid)) process.kill(pid, "SIGKILL");
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // A zombie still answers kill(0); it is not a running sshd.
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return true;
  }
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((ok) => {
    const socket = connect({ host, port });
    socket.once("connect", () => {
      socket.destroy();
      ok(true);
    });
    socket.once("error", () => ok(false));
  });
}

function freePort(host: string): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, host, () => {
      const addr = server.address();
      server.close(() => (addr && typeof addr === "object" ? ok(addr.port) : fail(new Error("no port"))));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
