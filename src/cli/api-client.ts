/**
 * The HTTP client of the remote CLI (`jarvis --server URL`): node's fetch with the API token as a
 * bearer header, every answer checked against its schema (src/api/response-schemas.ts), every
 * refusal the server's `{code, message}` as a RemoteError with its status. The token is only ever
 * put in that header: no message, error or URL shown here carries it.
 */
import type { z } from "zod";
import { CommandError, RemoteError, errorMessage } from "../errors.js";
import { errorJsonSchema, runEventSchema } from "../api/response-schemas.js";
import type { WireRunEvent } from "../api/response-schemas.js";

/** How long one request (not an event stream) may take before the server counts as unreachable. */
const REQUEST_TIMEOUT_MS = 120_000;

/** Where the server is and who we are to it. */
export interface ApiClientOptions {
  /** Base URL, e.g. https://jarvis.example.org:8642 (a path prefix is kept). */
  server: string;
  token: string;
}

/** A query string's values; undefined ones are left out. */
export type Query = Record<string, string | number | undefined>;

/** Check the server URL the operator gave: http(s) only, no credentials in it (they would show). */
export function parseServerUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CommandError(
      "E_USAGE",
      `--server must be a URL like http://127.0.0.1:8642, got '${text.slice(0, 80)}'`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new CommandError("E_USAGE", `--server must be an http:// or https:// URL, got ${url.protocol}`);
  if (url.username !== "" || url.password !== "")
    throw new CommandError(
      "E_USAGE",
      "--server must not carry credentials; give the API token in JARVIS_TOKEN",
    );
  if (url.search !== "" || url.hash !== "")
    throw new CommandError("E_USAGE", "--server is the server's base URL, without ?query or #fragment");
  return url;
}

/** The client. */
export class ApiClient {
  private readonly base: URL;
  private readonly token: string;

  constructor(options: ApiClientOptions) {
    this.base = parseServerUrl(options.server);
    this.token = options.token;
  }

  /** The server as shown in messages. */
  get server(): string {
    return this.base.origin + this.base.pathname.replace(/\/$/, "");
  }

  get<S extends z.ZodType>(path: string, schema: S, query: Query = {}): Promise<z.infer<S>> {
    return this.call("GET", path, query, undefined, schema);
  }

  post<S extends z.ZodType>(path: string, body: unknown, schema: S): Promise<z.infer<S>> {
    return this.call("POST", path, {}, body, schema);
  }

  /** A DELETE answered with 204. */
  async delete(path: string): Promise<void> {
    const response = await this.send("DELETE", path, {}, undefined, AbortSignal.timeout(REQUEST_TIMEOUT_MS));
    await response.body?.cancel();
  }

  /**
   * The run's events after `after` (GET /runs/{id}/events?format=ndjson), as they come, until the
   * server ends the stream (the run ended). A stream that breaks off throws RemoteError
   * E_REMOTE_DROPPED; the caller resumes after the last event it saw.
   */
  events(runId: string, after: number): AsyncGenerator<WireRunEvent> {
    return this.ndjson(
      `/runs/${encodeURIComponent(runId)}/events`,
      { format: "ndjson", after },
      runEventSchema,
      `the event stream of run ${runId}`,
    );
  }

  /**
   * Each line of a newline-delimited JSON stream (a run's or a job's events), checked against
   * `schema`, until the server ends it; one that breaks off throws RemoteError E_REMOTE_DROPPED
   * naming `what`.
   */
  async *ndjson<S extends z.ZodType>(
    path: string,
    query: Query,
    schema: S,
    what: string,
    /** Ends a stream that has no end of its own (the agents' events). */
    signal?: AbortSignal,
  ): AsyncGenerator<z.infer<S>> {
    const response = await this.send("GET", path, query, undefined, signal);
    if (!response.body) return;
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let open = true;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) {
          open = false;
          return;
        }
        buffer += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, end).trim();
          buffer = buffer.slice(end + 1);
          // Blank lines are the server's keep-alives.
          if (line !== "") yield this.checked(schema, parseJson(line), `GET ${path}`, response.status);
        }
      }
    } catch (err) {
      if (err instanceof RemoteError) throw err;
      open = false;
      throw new RemoteError("E_REMOTE_DROPPED", `${this.server} broke off ${what}: ${causeText(err)}`, 0, {
        cause: err,
      });
    } finally {
      // A consumer that stops early lets the connection go.
      if (open) await reader.cancel();
    }
  }

  private async call<S extends z.ZodType>(
    method: string,
    path: string,
    query: Query,
    body: unknown,
    schema: S,
  ): Promise<z.infer<S>> {
    const response = await this.send(method, path, query, body, AbortSignal.timeout(REQUEST_TIMEOUT_MS));
    const text = await response.text().catch((err: unknown) => {
      throw this.unreachable(err);
    });
    return this.checked(schema, parseJson(text), `${method} ${path}`, response.status);
  }

  /** Send one request; a refusal is thrown as the server's error, no answer as unreachable. */
  private async send(
    method: string,
    path: string,
    query: Query,
    body: unknown,
    signal: AbortSignal | undefined,
  ): Promise<Response> {
    const url = new URL(`${this.base.pathname.replace(/\/$/, "")}${path}`, this.base);
    for (const [key, value] of Object.entries(query))
      if (value !== undefined) url.searchParams.set(key, String(value));
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.token}`,
      accept: "application/json",
    };
    if (body !== undefined) headers["content-type"] = "application/json";
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        ...(signal ? { signal } : {}),
        redirect: "error",
      });
    } catch (err) {
      throw this.unreachable(err);
    }
    if (response.ok) return response;
    const text = await response.text().catch(() => "");
    const refusal = errorJsonSchema.safeParse(parseJson(text));
    if (refusal.success) throw new RemoteError(refusal.data.code, refusal.data.message, response.status);
    throw new RemoteError(
      "E_REMOTE_ANSWER",
      `${this.server} answered ${method} ${path} with HTTP ${response.status} and no jarvis error; is --server a jarvis API?`,
      response.status,
    );
  }

  private checked<S extends z.ZodType>(schema: S, value: unknown, what: string, status: number): z.infer<S> {
    const parsed = schema.safeParse(value);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    throw new RemoteError(
      "E_REMOTE_ANSWER",
      `${this.server} answered ${what} with an unexpected body (${issue ? `${issue.path.join(".") || "body"}: ${issue.message}` : "?"}); is the server a different jarvis version?`,
      status,
    );
  }

  private unreachable(err: unknown): RemoteError {
    return new RemoteError(
      "E_REMOTE_UNREACHABLE",
      `cannot reach jarvis at ${this.server}: ${causeText(err)}; check --server (or JARVIS_SERVER) and that \`jarvis start\` serves its API there`,
      0,
      { cause: err },
    );
  }
}

/** Parse a body as JSON; what is not JSON is undefined (the schema check then says so). */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** fetch says "fetch failed"; the reason (ECONNREFUSED, a certificate) is in its cause. */
function causeText(err: unknown): string {
  if (err instanceof Error && err.name === "TimeoutError") return "no answer in time";
  const cause = err instanceof Error ? err.cause : undefined;
  if (cause instanceof Error) {
    const code = "code" in cause && typeof cause.code === "string" ? cause.code : undefined;
    return code && !cause.message.includes(code) ? `${code} ${cause.message}` : cause.message;
  }
  return errorMessage(err);
}
