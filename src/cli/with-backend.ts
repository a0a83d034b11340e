/**
 * Where a command acts, chosen once: the jarvis server named by --server (or JARVIS_SERVER), with
 * the API token from JARVIS_TOKEN, else this machine's store.
 */
import { existsSync, readFileSync } from "node:fs";
import { ConfigError } from "../errors.js";
import { localTokenPath } from "../api/api-tokens.js";
import { ApiClient } from "./api-client.js";
import { openLocalBackend } from "./local-backend.js";
import { remoteBackend } from "./remote-backend.js";
import type { CliBackend } from "./backend.js";
import type { CommandContext } from "./command.js";

/** Open the command's backend, hand it to `fn`, and close it afterwards whatever happens. */
export async function withBackend<T>(
  ctx: CommandContext<unknown>,
  fn: (backend: CliBackend) => Promise<T>,
): Promise<T> {
  const backend =
    ctx.server === undefined ? await openLocalBackend(ctx) : remoteBackend(ctx.server, apiToken(ctx));
  try {
    return await fn(backend);
  } finally {
    await backend.close();
  }
}

/**
 * The API of the jarvis that serves this configuration's agents: --server (or JARVIS_SERVER) with
 * JARVIS_TOKEN, else the service on this machine at `api.listen`, with JARVIS_TOKEN or the local
 * operator token it keeps next to its store. Jobs go through it whatever the machine, since only
 * the running service reads the agents' replies.
 */
export function serviceClient(ctx: CommandContext<unknown>): ApiClient {
  if (ctx.server !== undefined) return new ApiClient({ server: ctx.server, token: apiToken(ctx) });
  const config = ctx.config();
  const api = config.api;
  if (!api.enabled)
    throw new ConfigError(
      "E_API_OFF",
      "the HTTP API is off (api: false in jarvis.yml); jobs reach the running service through it",
    );
  const host = api.host === "0.0.0.0" ? "127.0.0.1" : api.host === "::" ? "::1" : api.host;
  const server = `${api.tls ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${api.port}`;
  const token = ctx.env.JARVIS_TOKEN?.trim() || localToken(localTokenPath(config));
  return new ApiClient({ server, token });
}

function localToken(file: string): string {
  if (!existsSync(file))
    throw new ConfigError(
      "E_REMOTE_TOKEN",
      `no API token: set JARVIS_TOKEN, or start jarvis once so it makes ${file} (api.tokens not configured)`,
    );
  return readFileSync(file, "utf8").trim();
}

/** The token is taken from the environment only: on the command line, `ps` would show it. */
function apiToken(ctx: CommandContext<unknown>): string {
  const token = ctx.env.JARVIS_TOKEN?.trim();
  if (!token)
    throw new ConfigError(
      "E_REMOTE_TOKEN",
      "--server needs an API token in JARVIS_TOKEN (a name under api.tokens in the server's jarvis.yml, or its api-token file)",
    );
  return token;
}
