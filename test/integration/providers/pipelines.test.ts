// End to end through the jarvis CLI: `jarvis run destroy <design>` with a cloud provider, the
// provider step reaching the local Linode / EC2 API server through its real SDK, the engine and
// the SQLite store doing what they do in production. Needs `npx tsc -p .` first (npm test builds).
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { dumpYaml } from "../../../src/clipboard/yaml.js";
import { startLinodeApi } from "../servers/linode-api.js";
import type { LinodeApi } from "../servers/linode-api.js";
import { startEc2Api } from "../servers/ec2-api.js";
import type { Ec2Api } from "../servers/ec2-api.js";
import { runStep } from "./spawn-step.js";

const ROOT = resolve(import.meta.dirname, "../../..");
const LINODE_TOKEN = "lin-e2e-token-93ab71";
const KEY_ID = "AKIAJARVISE2E00001";
const SECRET = "jarvisE2eSecret/abcdefABCDEF0123456789";
const AMI = "ami-0123456789abcdef0";
const FAST = {
  poll_ms: 10,
  poll_max_ms: 40,
  wait_timeout_s: 30,
  retry_base_ms: 10,
  retry_max_ms: 50,
  api_attempts: 4,
};

let dir: string;
let linode: LinodeApi;
let ec2: Ec2Api;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "jarvis-cloud-e2e-"));
  linode = await startLinodeApi({ token: LINODE_TOKEN, retryAfterSeconds: 0 });
  ec2 = await startEc2Api({ accessKeyId: KEY_ID, secretAccessKey: SECRET, region: "eu-west-1" });
  writeFileSync(
    join(dir, "jarvis.yml"),
    dumpYaml({
      store: { path: join(dir, "jarvis.sqlite") },
      pipelines: { dirs: [join(ROOT, "pipelines")] },
      steps: { dirs: [join(dir, "steps")] },
      modules: {
        linode: { with: { api_url: linode.url, ...FAST }, env: { LINODE_TOKEN } },
        ec2: {
          with: { endpoint: ec2.url, images: { "debian-12": AMI }, ...FAST },
          env: { AWS_ACCESS_KEY_ID: KEY_ID, AWS_SECRET_ACCESS_KEY: SECRET, AWS_REGION: "eu-west-1" },
        },
      },
    }),
  );
});
afterEach(async () => {
  await linode.close();
  await ec2.close();
  rmSync(dir, { recursive: true, force: true });
});

function jarvis(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(
      process.execPath,
      [join(ROOT, "dist/src/cli/main.js"), "--config", join(dir, "jarvis.yml"), ...args],
      {
        cwd: dir,
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
    child.on("error", fail);
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

function design(name: string, instance: Record<string, unknown>): string {
  const file = join(dir, `${name}.yml`);
  writeFileSync(file, dumpYaml({ instance }));
  return file;
}

describe("destroy pipeline through the CLI", () => {
  it("deletes a Linode and records the run as succeeded; the token never shows", async () => {
    const instance = {
      hostname: "loki",
      provider: "linode",
      size: 1024,
      datacenter: "us-east",
      guestid: "debian-12",
    };
    const made = await runStep(
      "linode",
      "deploy",
      { instance },
      { api_url: linode.url, ...FAST },
      { LINODE_TOKEN },
    );
    expect(made.code, made.stderr).toBe(0);
    expect(linode.instances.size).toBe(1);
    const run = await jarvis("run", "destroy", design("loki", instance));
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(linode.instances.size).toBe(0);
    // Powered off before it was deleted, so it stopped serving first.
    const shutdown = linode.requests.findIndex((r) =>
      /^POST \/v4\/linode\/instances\/\d+\/shutdown$/.test(r),
    );
    expect(shutdown).toBeGreaterThan(-1);
    expect(linode.requests.findIndex((r) => /^DELETE \/v4\/linode\/instances\/\d+$/.test(r))).toBeGreaterThan(
      shutdown,
    );
    const status = await jarvis("status", "loki", "--json");
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain("succeeded");
    expect(run.stdout + run.stderr + status.stdout).not.toContain(LINODE_TOKEN);
    // Destroying again converges: nothing left to delete is no failure.
    const again = await jarvis("run", "destroy", design("loki", instance));
    expect(again.code, again.stdout + again.stderr).toBe(0);
  });

  it("terminates an EC2 instance", async () => {
    const instance = {
      hostname: "hel",
      provider: "ec2",
      size: 1024,
      region: "eu-west-1",
      guestid: "debian-12",
    };
    const made = await runStep(
      "ec2",
      "deploy",
      { instance },
      { endpoint: ec2.url, images: { "debian-12": AMI }, ...FAST },
      { AWS_ACCESS_KEY_ID: KEY_ID, AWS_SECRET_ACCESS_KEY: SECRET },
    );
    expect(made.code, made.stderr).toBe(0);
    const run = await jarvis("run", "destroy", design("hel", instance));
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(
      [...ec2.instances.values()].every((i) => i.state === "shutting-down" || i.state === "terminated"),
    ).toBe(true);
    expect(ec2.actions.indexOf("StopInstances")).toBeGreaterThan(-1);
    expect(ec2.actions.indexOf("TerminateInstances")).toBeGreaterThan(ec2.actions.indexOf("StopInstances"));
    expect(run.stdout + run.stderr).not.toContain(SECRET);
  });

  it("refuses to destroy a production host and leaves it running", async () => {
    const instance = {
      hostname: "odin",
      provider: "linode",
      size: 1024,
      datacenter: "us-east",
      guestid: "debian-12",
      production: true,
    };
    const made = await runStep(
      "linode",
      "deploy",
      { instance },
      { api_url: linode.url, ...FAST },
      { LINODE_TOKEN },
    );
    expect(made.code, made.stderr).toBe(0);
    const run = await jarvis("run", "destroy", design("odin", instance));
    expect(run.code).not.toBe(0);
    expect(run.stdout + run.stderr).toContain("serves production");
    expect(linode.instances.size).toBe(1);
  });

  it("fails the run with the provider's own words when the token is refused", async () => {
    const instance = {
      hostname: "loki",
      provider: "linode",
      size: 1024,
      datacenter: "us-east",
      guestid: "debian-12",
    };
    await linode.close();
    linode = await startLinodeApi({ token: "some-other-token-000" });
    writeFileSync(
      join(dir, "jarvis.yml"),
      dumpYaml({
        store: { path: join(dir, "jarvis.sqlite") },
        pipelines: { dirs: [join(ROOT, "pipelines")] },
        modules: { linode: { with: { api_url: linode.url, ...FAST }, env: { LINODE_TOKEN } } },
      }),
    );
    const run = await jarvis("run", "destroy", design("loki", instance));
    expect(run.code).not.toBe(0);
    expect(run.stdout + run.stderr).toContain("token was refused");
    expect(run.stdout + run.stderr).not.toContain(LINODE_TOKEN);
  });
});
