/**
 * `api.tls`: jarvis serves its API and page over HTTPS with the configured certificate, and the
 * remote CLI talks to it (trusting that certificate through NODE_EXTRA_CA_CERTS, as an operator
 * with a private CA would).
 */
import { execFileSync, execFile } from "node:child_process";
import { join } from "node:path";
import { request } from "node:https";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliPath } from "../../helpers/jarvis-env.js";
import { freePort, waitForPort } from "../../helpers/net.js";
import { makeJarvisEnv } from "../../helpers/jarvis-env.js";
import type { ChildProcess } from "node:child_process";
import type { JarvisEnv } from "../../helpers/jarvis-env.js";

let env: JarvisEnv;
let child: ChildProcess;
let url: string;

beforeAll(async () => {
  const port = await freePort();
  env = makeJarvisEnv({
    api: `listen: 127.0.0.1:${port}\ntls: {cert: cert.pem, key: key.pem}`,
  });
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "2",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      join(env.dir, "key.pem"),
      "-out",
      join(env.dir, "cert.pem"),
    ],
    { stdio: "ignore" },
  );
  child = env.spawnCli(["start"]);
  child.stdout?.resume();
  child.stderr?.resume();
  await waitForPort(port, "127.0.0.1", 120_000);
  url = `https://127.0.0.1:${port}`;
}, 180_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  }
});

describe("HTTP API over TLS", () => {
  it("answers over HTTPS with the configured certificate, and the remote CLI uses it", async () => {
    const ca = readFileSync(join(env.dir, "cert.pem"));
    const health = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${url}/health`, { ca }, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => void (body += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on("error", reject);
      req.end();
    });
    expect(health.status).toBe(200);
    const token = readFileSync(join(env.dir, "api-token"), "utf8").trim();
    const run = (extra: NodeJS.ProcessEnv) =>
      new Promise<{ code: number; stderr: string; stdout: string }>((resolve) => {
        execFile(
          process.execPath,
          [cliPath, "--server", url, "status", "--json"],
          { cwd: env.dir, env: { ...process.env, JARVIS_TOKEN: token, ...extra } },
          (error, stdout, stderr) =>
            resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
        );
      });
    const trusted = await run({ NODE_EXTRA_CA_CERTS: join(env.dir, "cert.pem") });
    expect(trusted.code, trusted.stderr).toBe(0);
    expect(JSON.parse(trusted.stdout)).toEqual([]);
    // Without trusting it, the CLI refuses the certificate and says why.
    const untrusted = await run({});
    expect(untrusted.code).toBe(6);
    expect(untrusted.stderr).toContain(`cannot reach jarvis at ${url}`);
    expect(untrusted.stderr).toMatch(/self[- ]signed|certificate/i);
  }, 180_000);
});
