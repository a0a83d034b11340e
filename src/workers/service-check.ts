/**
 * Whether a node answers for a service, the way the design says to ask: a TCP connect to a port,
 * or an HTTP(S) GET of the design's URL sent to the node's address (with the URL's host name in
 * the Host header and TLS SNI, as a load balancer's health check does), passing on 2xx and 3xx.
 * Both production:migrate (the standby) and production:restore (the new node) ask the same way.
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect } from "node:net";

/** How a design says to check a service (validated in src/clipboard/design.ts). */
export type ServiceCheck = { tcp: number } | { http: string };

/** The answer to one check: ok, or why not (for the operator). */
export type CheckResult = { ok: true; detail: string } | { ok: false; detail: string };

/** Run one check against `address`; never throws, the caller decides what a failure means. */
export function checkService(
  check: ServiceCheck,
  address: string,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<CheckResult> {
  return "tcp" in check
    ? tcpCheck(address, check.tcp, timeoutMs, signal)
    : httpCheck(address, check.http, timeoutMs, signal);
}

/** Human words for a check, for logs and errors: `TCP 80`, `GET http://www/health`. */
export function describeCheck(check: ServiceCheck): string {
  return "tcp" in check ? `TCP port ${check.tcp}` : `GET ${check.http}`;
}

function tcpCheck(
  address: string,
  port: number,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<CheckResult> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port, timeout: timeoutMs, signal });
    socket.once("connect", () => {
      socket.destroy();
      resolve({ ok: true, detail: `${address}:${port} accepted a TCP connection` });
    });
    socket.once("timeout", () => {
      socket.destroy();
      resolve({
        ok: false,
        detail: `${address}:${port} did not accept a TCP connection within ${timeoutMs} ms`,
      });
    });
    socket.once("error", (err) =>
      resolve({ ok: false, detail: `${address}:${port} refused the TCP connection (${err.message})` }),
    );
  });
}

function httpCheck(
  address: string,
  url: string,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<CheckResult> {
  const parsed = new URL(url);
  const secure = parsed.protocol === "https:";
  const port = parsed.port === "" ? (secure ? 443 : 80) : Number(parsed.port);
  const where = `${url} at ${address}:${port}`;
  return new Promise((resolve) => {
    const options = {
      host: address,
      port,
      path: `${parsed.pathname}${parsed.search}`,
      method: "GET",
      headers: { host: parsed.host },
      timeout: timeoutMs,
      signal,
      ...(secure ? { servername: parsed.hostname } : {}),
    };
    const req = (secure ? httpsRequest : httpRequest)(options, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      resolve(
        status >= 200 && status < 400
          ? { ok: true, detail: `${where} answered ${status}` }
          : { ok: false, detail: `${where} answered ${status}` },
      );
    });
    req.once("timeout", () => {
      req.destroy();
      resolve({ ok: false, detail: `${where} did not answer within ${timeoutMs} ms` });
    });
    req.once("error", (err) => resolve({ ok: false, detail: `${where} failed: ${err.message}` }));
    req.end();
  });
}
