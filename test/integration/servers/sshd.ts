/**
 * A real OpenSSH sshd for tests (e.g. a cloud provider test whose fake API hands out 127.0.0.1):
 * its own host key and authorised keys in a temp directory, on a free loopback port, with the
 * same configuration the local provider writes; `stop()` ends it.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { sshdConfig } from "../../../src/providers/local.js";
import { freePort } from "../../helpers/net.js";
import { startDaemon } from "../../helpers/daemon.js";

const run = promisify(execFile);

/** A running sshd. */
export interface SshdServer {
  port: number;
  dir: string;
  /** The host's public key line (`ssh-ed25519 AAAA...`). */
  hostKey: string;
  stop(): Promise<void>;
}

/** Start sshd authorising `authorizedKeys` (public key lines) for the user the tests run as. */
export async function startSshd(authorizedKeys: string[]): Promise<SshdServer> {
  const dir = mkdtempSync(join(tmpdir(), "jarvis-sshd-"));
  mkdirSync(join(dir, "home"));
  const port = await freePort();
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "ssh_host_ed25519_key")]);
  writeFileSync(join(dir, "authorized_keys"), `${authorizedKeys.join("\n")}\n`, { mode: 0o600 });
  writeFileSync(join(dir, "sshd_config"), sshdConfig(dir, "127.0.0.1", port));
  if (!existsSync("/run/sshd") && process.getuid?.() === 0) mkdirSync("/run/sshd", { mode: 0o755 });
  const daemon = await startDaemon(
    "sshd",
    "/usr/sbin/sshd",
    ["-D", "-e", "-f", join(dir, "sshd_config")],
    port,
    20_000,
  );
  return {
    port,
    dir,
    hostKey: readFileSync(join(dir, "ssh_host_ed25519_key.pub"), "utf8").split(" ").slice(0, 2).join(" "),
    async stop() {
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
