/**
 * One HTTP POST to the vim25 endpoint. node:https rather than fetch: Node's fetch takes its CA
 * only through an undici dispatcher, and undici is not a dependency; an https.Agent with `ca`
 * trusts a self-signed vCenter for this client alone while verification stays on.
 */
import { request as httpRequest } from "node:http";
import { Agent, request as httpsRequest } from "node:https";
import type { IncomingHttpHeaders } from "node:http";
import { ProviderError } from "../../errors.js";

/** A response as the SOAP layer needs it. */
export interface HttpReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Where and how to talk to the server. */
export interface TransportOptions {
  url: URL;
  /** Extra trusted CA certificates (PEM) for a self-signed vCenter; the system's stay trusted. */
  ca?: string;
  /** Give up on one request after this long. */
  timeoutMs: number;
}

// Answers larger than this are not something the few calls here ever get; refuse, do not buffer.
const MAX_BODY = 64 * 1024 * 1024;

const TLS_CODES = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** Posts SOAP bodies to one endpoint over one keep-alive connection pool. */
export class SoapTransport {
  private readonly agent: Agent | undefined;

  constructor(private readonly opts: TransportOptions) {
    this.agent =
      opts.url.protocol === "https:"
        ? new Agent({ keepAlive: true, ca: opts.ca, rejectUnauthorized: true })
        : undefined;
  }

  post(body: string, headers: Record<string, string>, signal: AbortSignal): Promise<HttpReply> {
    const send = this.opts.url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(
        this.opts.url,
        {
          method: "POST",
          agent: this.agent,
          signal,
          timeout: this.opts.timeoutMs,
          headers: { ...headers, "Content-Length": String(Buffer.byteLength(body)) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_BODY) {
              req.destroy(new Error(`answer larger than ${MAX_BODY} bytes`));
              return;
            }
            chunks.push(chunk);
          });
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).toString("utf8"),
            }),
          );
          res.on("error", (err) => reject(this.networkError(err)));
        },
      );
      req.on("timeout", () => req.destroy(new Error(`no answer within ${this.opts.timeoutMs} ms`)));
      req.on("error", (err) => reject(this.networkError(err)));
      req.end(body);
    });
  }

  close(): void {
    this.agent?.destroy();
  }

  private networkError(err: Error): ProviderError {
    const code = "code" in err && typeof err.code === "string" ? err.code : undefined;
    const where = this.opts.url.host;
    if (code && TLS_CODES.has(code)) {
      return new ProviderError(
        "E_PROVIDER_TLS",
        `vmware: the certificate of ${where} is not trusted (${code}); give its CA in modules.vmware.with.ca_file (never turn verification off)`,
        { cause: err },
      );
    }
    if (code === "ABORT_ERR")
      return new ProviderError("E_PROVIDER_ABORTED", "vmware: call abandoned: the step was stopped", {
        retryable: true,
      });
    return new ProviderError(
      "E_PROVIDER_UNREACHABLE",
      `vmware: cannot reach ${where} (${code ?? err.message}); check modules.vmware.with.url and the network`,
      { retryable: true, cause: err },
    );
  }
}
