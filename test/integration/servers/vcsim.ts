/**
 * VMware's own vCenter/ESX simulator (govmomi's `simulator` package, from Debian) for the VMware
 * provider's tests. vcsim/main.go is built once in GOPATH mode against /usr/share/gocode and
 * cached under node_modules/.cache/jarvis-vcsim by the hash of its source, then started per test
 * on a free loopback port with TLS (its own certificate, written to a file the tests trust).
 */
import { execFile, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { createInterface } from "node:readline";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const SOURCE = resolve(import.meta.dirname, "vcsim/main.go");
const CACHE = resolve(import.meta.dirname, "../../../node_modules/.cache/jarvis-vcsim");

/** A running simulator. */
export interface Vcsim {
  /** The SDK endpoint, https://127.0.0.1:PORT/sdk */
  url: string;
  /** The PEM file of the simulator's self-signed certificate. */
  caFile: string;
  stop(): Promise<void>;
}

/** Whether Debian's Go and govmomi are installed (scripts/test-services installs them). */
export function vcsimAvailable(): boolean {
  return existsSync("/usr/share/gocode/src/github.com/vmware/govmomi/simulator") && existsSync("/usr/bin/go");
}

/** Build the simulator binary unless a build of this exact source is cached; its path. */
export async function buildVcsim(): Promise<string> {
  const hash = createHash("sha256").update(readFileSync(SOURCE)).digest("hex").slice(0, 16);
  const binary = join(CACHE, `vcsim-${hash}`);
  if (existsSync(binary)) return binary;
  mkdirSync(join(CACHE, "gopath"), { recursive: true });
  const partial = `${binary}.${process.pid}.partial`;
  await run("go", ["build", "-o", partial, SOURCE], {
    env: {
      PATH: process.env.PATH,
      HOME: CACHE,
      GO111MODULE: "off",
      GOPATH: `${join(CACHE, "gopath")}:/usr/share/gocode`,
      GOCACHE: join(CACHE, "gocache"),
      GOFLAGS: "",
    },
    timeout: 15 * 60_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  // Atomic, so concurrent test files never run a half-written binary.
  renameSync(partial, binary);
  return binary;
}

/** Start a simulated vCenter (or bare ESX host) accepting one login, with these templates. */
export async function startVcsim(options: {
  username: string;
  password: string;
  templates: string[];
  esx?: boolean;
}): Promise<Vcsim> {
  const binary = await buildVcsim();
  const args = ["-username", options.username, "-templates", options.templates.join(",")];
  if (options.esx) args.push("-esx");
  const child: ChildProcess = spawn(binary, args, {
    env: { VCSIM_PASSWORD: options.password, TMPDIR: process.env.TMPDIR ?? "/tmp" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  const first = await new Promise<string>((done, fail) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once("line", done);
    child.once("exit", (code) => fail(new Error(`vcsim exited (${code}) before answering: ${stderr}`)));
  });
  const parsed = JSON.parse(first) as { url: string; cert: string };
  return {
    url: parsed.url,
    caFile: parsed.cert,
    stop: async () => {
      // Closing stdin is the simulator's cue to exit; the kill is for a stuck one.
      child.stdin!.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
