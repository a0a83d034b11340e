// Moving a production host's services before a redeploy (production:migrate / restore), end to
// end through the jarvis CLI with the local provider, against the real bind9 (the service names),
// the loopback sshd hosts, and real HTTP and TCP listeners standing for the service on the host
// (127.0.0.1) and on its standby thor (127.0.0.2). Needs `npx tsc -p .` first (npm test builds).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { createServer } from "node:http";
import type { Server } from "node:http";
import { rmSync } from "node:fs";
import { promisify } from "node:util";
import { makeJarvisEnv } from "../../helpers/jarvis-env.js";
import type { JarvisEnv } from "../../helpers/jarvis-env.js";
import { eventually, freePort } from "../../helpers/net.js";
import { runStep } from "../workers/run-step.js";
import { clipboardFrom, modulesConfig, startServices } from "./services.js";
import type { Services } from "./services.js";

const HOST = "mimir";
const STANDBY = "127.0.0.2";

let s: Services;
let env: JarvisEnv;
let port: number;
/** Requests each listener saw, with their Host header, to prove who answered the checks. */
const seen: { address: string; host: string | undefined }[] = [];

/** A service listener: answers GET /health with 200 on `address`:port. */
async function listen(address: string): Promise<Server> {
  const server = createServer((req, res) => {
    seen.push({ address, host: req.headers.host });
    res.writeHead(req.url === "/health" ? 200 : 404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, address, resolve);
  });
  return server;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Where www.example.test points now, as bind9 answers. */
async function www(): Promise<string[]> {
  return s.named.dig("www.example.test", "CNAME");
}

/** Set DNS records directly with nsupdate (the state jarvis finds, not jarvis's own work). */
async function nsupdate(lines: string[]): Promise<void> {
  const child = promisify(execFile)("nsupdate", ["-y", `hmac-sha256:${s.named.keyName}:${s.named.secret}`]);
  child.child.stdin!.end(
    [`server 127.0.0.1 ${s.named.port}`, `zone ${s.named.zone}`, ...lines, "send", ""].join("\n"),
  );
  await child;
}

function design(name: string, check: string, extra = ""): string {
  return env.write(
    name,
    `instance:\n  hostname: ${HOST}\n  fqdn: ${HOST}.example.test\n  provider: local\n  production: true\n` +
      `services:\n  - {name: www, dns: www.example.test, standby: thor, check: ${check}}\n${extra}`,
  );
}

async function localPort(): Promise<number | undefined> {
  const r = await runStep(
    "providers/local-step",
    "status",
    { instance: { hostname: HOST } },
    { cwd: env.dir },
  );
  return (r.clipboard?.local as Record<string, unknown> | undefined)?.ssh_port as number | undefined;
}

describe("production services move to their standby around a redeploy (bind9, sshd, HTTP/TCP)", () => {
  let host: Server | undefined;
  let standby: Server | undefined;

  beforeAll(async () => {
    s = await startServices();
    port = await freePort();
    env = makeJarvisEnv({
      extraConfig: modulesConfig(
        s,
        `  production:\n    with: { check_timeout: 2, dns: { server: 127.0.0.1, port: ${s.named.port}, zone: ${s.named.zone}, key_name: ${s.named.keyName} } }\n    env: { DNS_TSIG_SECRET: "${s.named.secret}" }\n`,
      ),
    });
    // thor, the standby, is known to DNS; www points at the host as clients find it today.
    await nsupdate([
      `update add thor.example.test 300 A ${STANDBY}`,
      `update add www.example.test 300 CNAME ${HOST}.example.test.`,
    ]);
    const deployed = await env.cli(["run", "deploy", design("plain.yml", "{tcp: 1}")]);
    expect(deployed.code, deployed.stdout + deployed.stderr).toBe(0);
  }, 240_000);

  afterAll(async () => {
    for (const server of [host, standby]) if (server?.listening) await close(server);
    if (env) {
      await runStep("providers/local-step", "delete", { instance: { hostname: HOST } }, { cwd: env.dir });
      rmSync(env.dir, { recursive: true, force: true });
    }
    await s?.stop();
  });

  it(
    "listing services does not let a destroy of a production host through (it has nowhere to move them)",
    { timeout: 120_000 },
    async () => {
      const before = await localPort();
      const r = await env.cli(["run", "destroy", design("www-tcp.yml", `{tcp: ${port}}`)]);
      expect(r.code).not.toBe(0);
      expect(r.stdout + r.stderr).toMatch(/mimir serves production \(instance\.production is set\)/);
      expect(await localPort()).toBe(before);
      expect(await www()).toEqual([`${HOST}.example.test.`]);
    },
  );

  it(
    "a standby that does not answer stops the redeploy before the power-off; nothing moves",
    { timeout: 240_000 },
    async () => {
      const before = await localPort();
      const r = await env.cli(["run", "redeploy", design("www-tcp.yml", `{tcp: ${port}}`)]);
      expect(r.code).not.toBe(0);
      expect(r.stdout + r.stderr).toMatch(/the standby does not answer for www: 127\.0\.0\.2:\d+ refused/);
      expect(r.stdout + r.stderr).toMatch(/nothing was moved/);
      expect(await www()).toEqual([`${HOST}.example.test.`]);
      expect(await localPort()).toBe(before);
    },
  );

  it(
    "the name moves to the standby, the host is redeployed, and the name comes back once it answers",
    { timeout: 300_000 },
    async () => {
      const before = await localPort();
      standby = await listen(STANDBY);
      const file = design("www-http.yml", `{http: "http://www.example.test:${port}/health"}`);
      const run = env.cli(["run", "redeploy", file]);
      // The host's service is down until the test sees the name on the standby, so restore
      // cannot have run yet when it does: the run is between migrate and restore.
      await eventually(
        async () => ((await www()).includes("thor.example.test.") ? true : undefined),
        120_000,
        "www.example.test pointing at thor",
      );
      expect(seen).toContainEqual({ address: STANDBY, host: `www.example.test:${port}` });
      host = await listen("127.0.0.1");
      const r = await run;
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(await www()).toEqual([`${HOST}.example.test.`]);
      expect(seen).toContainEqual({ address: "127.0.0.1", host: `www.example.test:${port}` });
      expect(await localPort()).not.toBe(before);
      const clip = clipboardFrom((await env.cli(["clipboard", HOST, "--json"])).stdout);
      expect(clip.production).toMatchObject({
        migrated: [],
        restored: [{ name: "www", dns: "www.example.test", to: `${HOST}.example.test` }],
      });
      expect(r.stdout + r.stderr).not.toContain(s.named.secret);
    },
  );

  it("a failure after the migration restores the name in on_failure", { timeout: 300_000 }, async () => {
    const file = design("www-fails.yml", `{tcp: ${port}}`, "commands:\n  mounts: exit 3\n");
    const r = await env.cli(["run", "redeploy", file]);
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/mounts/);
    expect(r.stdout + r.stderr).toMatch(/www\.example\.test now points at thor\.example\.test/);
    expect(await www()).toEqual([`${HOST}.example.test.`]);
    const clip = clipboardFrom((await env.cli(["clipboard", HOST, "--json"])).stdout);
    expect(clip.production).toMatchObject({ migrated: [] });
  });
});
