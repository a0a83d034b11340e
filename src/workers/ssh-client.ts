/**
 * The OpenSSH client as the SSH-using steps (ssh, agent) drive it: always an argument array
 * (never a shell on our side), BatchMode, the deploy key as the only identity, and a known_hosts
 * file built from the host keys ssh:wait recorded, so every later connection checks the host.
 */
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { resolve } from "node:path";
import { StepFailure } from "../step-sdk/define-step.js";
import type { Clipboard } from "../step-sdk/define-step.js";
import { hostAddress } from "../providers/host-address.js";
import { DEFAULT_DEPLOY_KEY } from "./deploy-key.js";

/** Everything needed to open an SSH connection to a deployed host. */
export interface SshTarget {
  address: string;
  port: number;
  user: string;
  /** The deploy key's private key file. */
  identityFile: string;
  /** Recorded host keys (`ssh-ed25519 AAAA...`); empty means not yet known (ssh:wait only). */
  hostKeys: string[];
  connectTimeoutSec: number;
}

/** Result of one remote command. */
export interface RemoteResult {
  code: number;
  /** The last lines of its combined output, for error messages. */
  lastLines: string[];
}

/** Exit status the ssh client uses for its own errors (connection, authentication). */
export const SSH_CLIENT_ERROR = 255;

/** Build the SSH target from the clipboard (provider section, ssh.host_keys) and step parameters. */
export function sshTarget(
  clipboard: Clipboard,
  params: Record<string, unknown>,
  needHostKeys = true,
): SshTarget {
  const host = hostAddress(clipboard);
  const ssh = clipboard.ssh as Record<string, unknown> | undefined;
  const keys =
    ssh && Array.isArray(ssh.host_keys)
      ? ssh.host_keys.filter((k): k is string => typeof k === "string")
      : [];
  if (needHostKeys && keys.length === 0) {
    throw new StepFailure(
      "E_CLIPBOARD_FIELD",
      "clipboard field ssh.host_keys is missing: run ssh:wait before this step so the host's keys are known",
    );
  }
  // The local provider's host is this machine: its sshd lets in the user jarvis runs as.
  const defaultUser = host.provider === "local" ? userInfo().username : "root";
  const timeout = params.connect_timeout;
  // `with.port` is for hosts whose provider does not know the SSH port (a cloud image with sshd
  // moved off 22, a forwarded port); without it, the provider's ssh_port (else 22) is used.
  const port = params.port;
  if (
    port !== undefined &&
    !(typeof port === "number" && Number.isInteger(port) && port > 0 && port < 65536)
  ) {
    throw new StepFailure(
      "E_STEP_PARAMS",
      `ssh: parameter port must be a TCP port number (1-65535), got ${JSON.stringify(port)}; fix modules.<module>.with.port in jarvis.yml`,
    );
  }
  return {
    address: host.address,
    port: typeof port === "number" ? port : host.sshPort,
    user: typeof params.user === "string" && params.user !== "" ? params.user : defaultUser,
    identityFile: resolve(typeof params.deploy_key === "string" ? params.deploy_key : DEFAULT_DEPLOY_KEY),
    hostKeys: keys,
    connectTimeoutSec: typeof timeout === "number" && timeout > 0 ? timeout : 10,
  };
}

/** The `[host]:port` form known_hosts and ssh-keyscan use for non-standard ports. */
export function knownHostsName(address: string, port: number): string {
  return port === 22 ? address : `[${address}]:${port}`;
}

/** SHA256 fingerprint of a public key line, exactly as `ssh-keygen -lf` prints it (`SHA256:...`). */
export function fingerprint(keyLine: string): string {
  const blob = keyBlob(keyLine);
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/** The decoded key blob of a public key line (`type base64 [comment]`). */
export function keyBlob(keyLine: string): Buffer {
  const b64 = keyLine.trim().split(/\s+/)[1];
  if (!b64 || !/^[A-Za-z0-9+/]+=*$/.test(b64))
    throw new StepFailure("E_SSH_KEY", `not an SSH public key line: ${keyLine.slice(0, 40)}`);
  return Buffer.from(b64, "base64");
}

/**
 * Ask the host for its public keys with ssh-keyscan. Resolves to key lines without the host
 * name (`ssh-ed25519 AAAA...`), sorted; an empty list means nothing answered (yet).
 */
export function keyscan(
  address: string,
  port: number,
  timeoutSec: number,
  signal: AbortSignal,
): Promise<string[]> {
  return new Promise((resolveKeys, reject) => {
    execFile(
      "ssh-keyscan",
      ["-p", String(port), "-T", String(timeoutSec), "-t", "ed25519,ecdsa,rsa", address],
      { signal, timeout: (timeoutSec + 5) * 1000 },
      (err, stdout) => {
        if (err && (err as NodeJS.ErrnoException).code === "ENOENT") {
          reject(
            new StepFailure(
              "E_SSH_MISSING",
              "ssh-keyscan is not installed; install it with: apt-get install openssh-client",
            ),
          );
          return;
        }
        if (signal.aborted) {
          reject(
            new StepFailure("E_STEP_ABORTED", "stopped while scanning the host's SSH keys", {
              retryable: true,
            }),
          );
          return;
        }
        const keys = stdout
          .split("\n")
          .filter((l) => l.trim() !== "" && !l.startsWith("#"))
          .map((l) => l.trim().split(/\s+/).slice(1, 3).join(" "))
          .filter((l) => l.includes(" "));
        resolveKeys([...new Set(keys)].sort());
      },
    );
  });
}

export interface RemoteOptions {
  signal: AbortSignal;
  onLine?: (line: string) => void;
  keep?: number;
  /** The command's stdin: how files (a key among them) reach the host without a command line. */
  input?: string | Uint8Array;
}

/**
 * Run one command on the host (the remote login shell interprets it: commands come from the
 * pipeline or the design, never from chat). Output lines go to `onLine` as they arrive.
 */
export async function runRemote(
  target: SshTarget,
  command: string,
  options: RemoteOptions,
): Promise<RemoteResult> {
  const dir = mkdtempSync(resolve(tmpdir(), "jarvis-ssh-"));
  try {
    const knownHosts = resolve(dir, "known_hosts");
    writeFileSync(
      knownHosts,
      target.hostKeys.map((k) => `${knownHostsName(target.address, target.port)} ${k}\n`).join(""),
      { mode: 0o600 },
    );
    const args = [
      "-F",
      "/dev/null",
      "-o",
      "BatchMode=yes",
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      `IdentityFile=${target.identityFile}`,
      "-o",
      `UserKnownHostsFile=${knownHosts}`,
      "-o",
      "GlobalKnownHostsFile=/dev/null",
      "-o",
      "StrictHostKeyChecking=yes",
      "-o",
      `ConnectTimeout=${target.connectTimeoutSec}`,
      "-o",
      "ServerAliveInterval=15",
      "-o",
      "LogLevel=ERROR",
      "-p",
      String(target.port),
      "-l",
      target.user,
      "--",
      target.address,
      command,
    ];
    return await spawnCollect("ssh", args, options);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function spawnCollect(cmd: string, args: string[], options: RemoteOptions): Promise<RemoteResult> {
  const keep = options.keep ?? 20;
  return new Promise((resolveResult, reject) => {
    // stdin is the input, or empty (end of file at once, as /dev/null would give).
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"], signal: options.signal });
    // A command that exits before reading all its input closes the pipe: its exit code says why.
    child.stdin.on("error", () => undefined);
    child.stdin.end(options.input);
    const last: string[] = [];
    const partial = { out: "", err: "" };
    const feed = (which: "out" | "err", chunk: Buffer): void => {
      const lines = (partial[which] + chunk.toString("utf8")).split("\n");
      partial[which] = lines.pop() ?? "";
      for (const line of lines) emit(line);
    };
    const emit = (line: string): void => {
      const clean = line.replace(/\r$/, "");
      last.push(clean);
      if (last.length > keep) last.shift();
      options.onLine?.(clean);
    };
    child.stdout.on("data", (c: Buffer) => feed("out", c));
    child.stderr.on("data", (c: Buffer) => feed("err", c));
    child.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT")
        reject(
          new StepFailure(
            "E_SSH_MISSING",
            `${cmd} is not installed; install it with: apt-get install openssh-client`,
          ),
        );
      else if (err.name === "AbortError")
        reject(
          new StepFailure("E_STEP_ABORTED", "stopped by jarvis while the remote command ran", {
            retryable: true,
          }),
        );
      else reject(err);
    });
    child.on("close", (code, sig) => {
      if (partial.out) emit(partial.out);
      if (partial.err) emit(partial.err);
      if (options.signal.aborted) {
        reject(
          new StepFailure("E_STEP_ABORTED", "stopped by jarvis while the remote command ran", {
            retryable: true,
          }),
        );
        return;
      }
      resolveResult({ code: code ?? (sig ? 128 : 1), lastLines: last });
    });
  });
}

/** A remote command's last non-empty output lines, joined for an error message. */
export function outputTail(lastLines: string[], count = 5): string {
  return lastLines
    .filter((l) => l.trim() !== "")
    .slice(-count)
    .join(" | ");
}

/** Turn an ssh client failure (exit 255) into a step failure that says what to check. */
export function sshClientFailure(target: SshTarget, lastLines: string[]): StepFailure {
  const text = lastLines
    .filter((l) => l.trim() !== "")
    .slice(-3)
    .join(" | ");
  const where = `${target.user}@${knownHostsName(target.address, target.port)}`;
  if (/Permission denied/i.test(text)) {
    return new StepFailure(
      "E_SSH_AUTH",
      `ssh to ${where} refused the deploy key ${target.identityFile} (${text}); authorise its public key on the host`,
    );
  }
  if (/host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/i.test(text)) {
    return new StepFailure(
      "E_SSH_HOSTKEY",
      `ssh to ${where}: the host key differs from the one ssh:wait recorded (${text}); if the host was redeployed, run ssh:wait again`,
    );
  }
  return new StepFailure("E_SSH_CONNECT", `ssh to ${where} failed: ${text || "no output"}; is the host up?`, {
    retryable: true,
  });
}
