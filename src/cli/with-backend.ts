/**
 * Where a command acts, chosen once: the jarvis server named by --server (or JARVIS_SERVER), with
 * the API token from JARVIS_TOKEN, else this machine's store.
 */
import { ConfigError } from "../errors.js";
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
