/**
 * A real `jarvis start` with its HTTP API on a free port, for tests: the URL, the local operator
 * token jarvis made (read from its file, as an operator would), and a fetch that sends it.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, waitForPort } from "./net.js";
import { makeJarvisEnv } from "./jarvis-env.js";
import type { ChildProcess } from "node:child_process";
import type { JarvisEnv, JarvisEnvOptions } from "./jarvis-env.js";

/** A started jarvis with its API. */
export interface ApiJarvis {
  env: JarvisEnv;
  child: ChildProcess;
  url: string;
  /** The local operator token (empty when api.tokens are configured). */
  token: string;
  /** What jarvis wrote to stderr so far. */
  stderr(): string;
  /** fetch against the API with the token, unless `headers.authorization` says otherwise. */
  call(path: string, init?: RequestInit): Promise<Response>;
  /** SIGTERM, then SIGKILL after 10 s; resolves once it has exited. */
  stop(): Promise<void>;
}

/** Options: the env's, plus extra lines for the `api:` section (tokens, body_limit). */
export interface ApiJarvisOptions extends Omit<JarvisEnvOptions, "api"> {
  apiExtra?: string;
  /** Extra environment for jarvis (token secrets). */
  processEnv?: NodeJS.ProcessEnv;
}

/** Start jarvis with the API on a free loopback port and wait until it listens. */
export async function startApiJarvis(options: ApiJarvisOptions = {}): Promise<ApiJarvis> {
  const port = await freePort();
  const configuredTokens = options.apiExtra?.includes("tokens:") ?? false;
  const env = makeJarvisEnv({
    ...options,
    api: `listen: 127.0.0.1:${port}${options.apiExtra ? `\n${options.apiExtra}` : ""}`,
  });
  const child = env.spawnCli(["start"], { env: options.processEnv ?? {} });
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => void (stderr += c.toString()));
  child.stdout?.resume();
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await waitForPort(port, "127.0.0.1", 60_000);
  } catch (err) {
    await stop();
    throw new Error(`jarvis start did not listen: ${String(err)}\n${stderr}`);
  }
  const url = `http://127.0.0.1:${port}`;
  const token = configuredTokens ? "" : readFileSync(join(env.dir, "api-token"), "utf8").trim();
  return {
    env,
    child,
    url,
    token,
    stderr: () => stderr,
    call(path, init = {}) {
      const headers = new Headers(init.headers);
      if (!headers.has("authorization") && token) headers.set("authorization", `Bearer ${token}`);
      return fetch(`${url}${path}`, { ...init, headers });
    },
    stop,
  };
}
