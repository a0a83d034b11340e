/**
 * The CLI's way to the running service, for what only the service does (jobs: their controller
 * is the one reader of the agents' replies): its HTTP API at `api.listen`, with the token in
 * JARVIS_API_TOKEN or else the local operator token jarvis keeps under its state directory. The
 * service's dispatcher applies the ACL and audits, as for any API call; a failure comes back as
 * the API's `{code, message}`, raised with that code so the exit code follows it.
 */
import { existsSync, readFileSync } from "node:fs";
import { z } from "zod";
import { ApiError, errorMessage } from "../errors.js";
import type { JarvisConfig } from "../config.js";
import { localTokenPath } from "../api/api-tokens.js";

export interface ApiClient {
  /** JSON in, JSON out; throws the API's error with its code. */
  json(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }>;
  /** A streaming GET: each NDJSON line as parsed JSON, until the server ends the stream. */
  lines(path: string): AsyncIterable<unknown>;
}

export function apiClient(config: JarvisConfig, env: NodeJS.ProcessEnv = process.env): ApiClient {
  const api = config.api;
  if (!api.enabled)
    throw new ApiError(
      "E_API_OFF",
      "the HTTP API is off (api: false in jarvis.yml); jobs need it to reach the service",
    );
  const host = api.host === "0.0.0.0" ? "127.0.0.1" : api.host === "::" ? "::1" : api.host;
  const base = `${api.tls ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${api.port}`;
  const token = env.JARVIS_API_TOKEN ?? localToken(config);
  const request = async (method: string, path: string, body?: unknown): Promise<Response> => {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      throw new ApiError(
        "E_API_UNREACHABLE",
        `cannot reach jarvis at ${base} (${errorMessage(err)}); is 'jarvis start' running with this jarvis.yml's api.listen?`,
        { cause: err },
      );
    }
    if (res.ok) return res;
    const failure = ApiFailure.safeParse(parseJson(await res.text()));
    if (!failure.success) throw new ApiError("E_API_HTTP", `jarvis answered HTTP ${res.status}`);
    throw new ApiError(failure.data.code, failure.data.message);
  };
  return {
    async json(method, path, body) {
      const res = await request(method, path, body);
      return { status: res.status, body: res.status === 204 ? null : await res.json() };
    },
    async *lines(path) {
      const res = await request("GET", path);
      const reader = res.body?.getReader();
      if (!reader) return;
      const decoder = new TextDecoder();
      let buffered = "";
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        buffered += decoder.decode(value, { stream: true });
        let newline;
        while ((newline = buffered.indexOf("\n")) >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          // Empty lines are the server's keep-alives.
          if (line !== "") yield JSON.parse(line) as unknown;
        }
      }
    },
  };
}

/** The API's error body. */
const ApiFailure = z.object({ code: z.string(), message: z.string() });

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // Not JSON (a proxy's error page): the status alone is reported.
    return undefined;
  }
}

function localToken(config: JarvisConfig): string {
  const file = localTokenPath(config);
  if (!existsSync(file))
    throw new ApiError(
      "E_API_TOKEN",
      `no API token: set JARVIS_API_TOKEN, or start jarvis once so it makes ${file} (api.tokens not configured)`,
    );
  return readFileSync(file, "utf8").trim();
}
