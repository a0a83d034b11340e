/**
 * Real sshds standing in for cloud instances in the Linode and EC2 API test servers: each running
 * instance gets an OpenSSH sshd on 127.0.0.1 at one fixed port (jarvis.yml tells the ssh steps that
 * port with `modules.ssh.with.port`, as an operator would for images with sshd off 22), with a host
 * key of its own and the keys the instance was created with authorised. The port is shared, so one
 * instance per server runs sshd at a time; starts and stops are serialised so a redeploy's new
 * instance gets the port once the old one's sshd has exited. (Not test/helpers/daemon.ts: on a
 * fixed port, readiness must race the sshd's exit, or a port still held elsewhere looks ready.)
 */
import { execFile, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { sshdConfig } from "../../../src/providers/local.js";
import { waitForPort } from "../../helpers/net.js";

const run = promisify(execFile);

/** One instance's sshd. */
interface Running {
  child: ChildProcess;
  dir: string;
}

/** The sshds of one API test server's instances. */
export class InstanceSshds {
  private chain: Promise<unknown> = Promise.resolve();
  private readonly running = new Map<string, Running>();
  private readonly starting = new Set<string>();
  /** Why an sshd did not start (the instance then stays booting; tests print these). */
  readonly errors: string[] = [];

  constructor(readonly port: number) {}

  /** Whether the instance's sshd accepts connections. */
  isUp(id: string): boolean {
    return this.running.has(id);
  }

  /** Start the instance's sshd unless it runs or is starting; returns at once (poll isUp). */
  ensure(id: string, authorizedKeys: string[]): void {
    if (this.running.has(id) || this.starting.has(id)) return;
    this.starting.add(id);
    void this.enqueue(async () => {
      try {
        this.running.set(id, await this.start(authorizedKeys));
      } catch (err) {
        this.errors.push(`${id}: ${String(err)}`);
      } finally {
        this.starting.delete(id);
      }
    });
  }

  /** Stop the instance's sshd (the instance shuts down or is deleted); no error if none runs. */
  stop(id: string): Promise<void> {
    return this.enqueue(async () => {
      const r = this.running.get(id);
      if (!r) return;
      this.running.delete(id);
      await stopChild(r);
    });
  }

  /** Stop every sshd (the test server closes). */
  stopAll(): Promise<void> {
    return this.enqueue(async () => {
      for (const r of this.running.values()) await stopChild(r);
      this.running.clear();
    });
  }

  private enqueue(op: () => Promise<void>): Promise<void> {
    const next = this.chain.then(op, op);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async start(authorizedKeys: string[]): Promise<Running> {
    const dir = mkdtempSync(join(tmpdir(), "jarvis-instance-sshd-"));
    mkdirSync(join(dir, "home"));
    await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "ssh_host_ed25519_key")]);
    writeFileSync(join(dir, "authorized_keys"), `${authorizedKeys.join("\n")}\n`, { mode: 0o600 });
    writeFileSync(join(dir, "sshd_config"), sshdConfig(dir, "127.0.0.1", this.port));
    if (!existsSync("/run/sshd") && process.getuid?.() === 0) mkdirSync("/run/sshd", { mode: 0o755 });
    const child = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", join(dir, "sshd_config")], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let log = "";
    child.stderr?.on("data", (c: Buffer) => (log = (log + c.toString()).slice(-2000)));
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    try {
      // Racing the exit: an sshd that cannot bind exits at once, and the port may still answer
      // for a moment if something else holds it.
      await Promise.race([
        waitForPort(this.port, "127.0.0.1", 20_000),
        exited.then(() => Promise.reject(new Error("sshd exited"))),
      ]);
    } catch (err) {
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`sshd on 127.0.0.1:${this.port} did not start: ${String(err)}: ${log.trim()}`);
    }
    return { child, dir };
  }
}

async function stopChild(r: Running): Promise<void> {
  if (r.child.exitCode === null && r.child.signalCode === null) {
    const exited = new Promise((resolve) => r.child.once("exit", resolve));
    r.child.kill("SIGTERM");
    const timer = setTimeout(() => r.child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }
  rmSync(r.dir, { recursive: true, force: true });
}
