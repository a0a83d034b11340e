import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpGet, UrlSource } from "../../../src/clipboard/sources/url-source.js";
import { SourceError } from "../../../src/errors.js";
import { eventually } from "../../helpers/net.js";
import { startHttpFixture } from "./http-fixture.js";
import type { HttpFixture } from "./http-fixture.js";

const DESIGN = "instance:\n  hostname: loki\n";
let http: HttpFixture;
let bigClosedAfter: number | undefined;
const pending: (() => void)[] = [];

async function refusal(promise: Promise<unknown>): Promise<SourceError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SourceError);
  return err as SourceError;
}

beforeAll(async () => {
  http = await startHttpFixture();
  http.route("/loki.yml", (_req, res) => res.end(DESIGN));
  for (let i = 1; i <= 7; i++) {
    http.route(`/hop/${i}`, (_req, res) => {
      res.writeHead(302, { location: i === 1 ? "/loki.yml" : `/hop/${i - 1}` });
      res.end();
    });
  }
  http.route("/loop", (_req, res) => {
    res.writeHead(301, { location: "/loop" });
    res.end();
  });
  http.route("/no-location", (_req, res) => {
    res.writeHead(302);
    res.end();
  });
  http.route("/ftp", (_req, res) => {
    res.writeHead(302, { location: "ftp://127.0.0.1/x.yml" });
    res.end();
  });
  // Streams up to 64 MiB without a length, in 64 KiB chunks as fast as the client takes them.
  http.route("/big", (_req, res) => {
    const chunk = Buffer.alloc(64 * 1024, "a");
    let sent = 0;
    res.on("close", () => (bigClosedAfter = sent));
    const pump = (): void => {
      while (sent < 1024 && !res.destroyed) {
        sent++;
        if (!res.write(chunk)) return void res.once("drain", pump);
      }
      res.end();
    };
    pump();
  });
  http.route("/big-declared", (_req, res) => {
    res.writeHead(200, { "content-length": String(5 * 1024 * 1024) });
    res.write("a: 1\n");
  });
  // Answers with headers, then never finishes the body.
  http.route("/slow", (_req, res) => {
    res.writeHead(200, { "content-type": "text/yaml" });
    res.write("instance:\n");
    pending.push(() => res.destroy());
  });
  http.route("/hang", (_req, res) => pending.push(() => res.destroy()));
  http.route("/broken", (_req, res) => {
    res.statusCode = 500;
    res.end("boom");
  });
  http.route("/busy", (_req, res) => {
    res.statusCode = 503;
    res.end();
  });
  http.route("/private", (_req, res) => {
    res.statusCode = 403;
    res.end();
  });
  http.route("/bad-request", (_req, res) => {
    res.statusCode = 400;
    res.end();
  });
});

afterAll(async () => {
  for (const end of pending) end();
  await http.close();
});

describe("UrlSource", () => {
  const source = new UrlSource({ timeoutMs: 10_000, maxBytes: 64 * 1024 });

  it("accepts http(s) refs only", () => {
    expect(source.accepts("https://example.test/loki.yml")).toBe(true);
    expect(source.accepts("HTTP://example.test/loki.yml")).toBe(true);
    expect(source.accepts("examples/loki.yml")).toBe(false);
    expect(source.accepts("gist:abc")).toBe(false);
  });

  it("fetches a design; the origin hides credentials and the query", async () => {
    const got = await source.fetch(`${http.base}/loki.yml`, new AbortController().signal);
    expect(got.text.toString()).toBe(DESIGN);
    expect(got.origin).toBe(`${http.base}/loki.yml`);
    const withSecrets = `http://bob:pa55word@127.0.0.1:${http.port}/loki.yml?token=s3cret`;
    const again = await source.fetch(withSecrets, new AbortController().signal);
    expect(again.origin).toBe(`${http.base}/loki.yml?...`);
  });

  it("follows up to 5 redirects", async () => {
    const got = await source.fetch(`${http.base}/hop/5`, new AbortController().signal);
    expect(got.text.toString()).toBe(DESIGN);
  });

  it("refuses a sixth redirect and a redirect loop", async () => {
    const six = await refusal(source.fetch(`${http.base}/hop/6`, new AbortController().signal));
    expect(six.code).toBe("E_SOURCE_REDIRECT");
    expect(six.message).toBe(
      `${http.base}/hop/6: more than 5 redirects (last to ${http.base}/loki.yml); use the final URL`,
    );
    const before = http.seen.filter((r) => r.path === "/loop").length;
    const loop = await refusal(source.fetch(`${http.base}/loop`, new AbortController().signal));
    expect(loop.code).toBe("E_SOURCE_REDIRECT");
    expect(http.seen.filter((r) => r.path === "/loop").length - before).toBe(6);
  });

  it("refuses redirects without a Location or to another scheme", async () => {
    const none = await refusal(source.fetch(`${http.base}/no-location`, new AbortController().signal));
    expect(none.code).toBe("E_SOURCE_HTTP");
    expect(none.message).toBe(`${http.base}/no-location answered 302 without a Location header`);
    const ftp = await refusal(source.fetch(`${http.base}/ftp`, new AbortController().signal));
    expect(ftp.code).toBe("E_SOURCE_REF");
    expect(ftp.message).toBe(`${http.base}/ftp: only http and https URLs are fetched, not ftp:`);
  });

  it("stops reading a body streamed past the size limit", async () => {
    const err = await refusal(source.fetch(`${http.base}/big`, new AbortController().signal));
    expect(err.code).toBe("E_SOURCE_TOO_LARGE");
    expect(err.message).toBe(
      `${http.base}/big: the document is over the size limit of 65536 bytes; is this the right URL?`,
    );
    // The server saw the client go away long before its 64 MiB were sent.
    const sent = await eventually(() => bigClosedAfter, 20_000, "the big response to close");
    expect(sent).toBeLessThan(1024);
  });

  it("refuses a declared length over the limit without reading the body", async () => {
    const err = await refusal(source.fetch(`${http.base}/big-declared`, new AbortController().signal));
    expect(err.code).toBe("E_SOURCE_TOO_LARGE");
  });

  it("times out on a server that stalls mid-body or never answers, as a retryable error", async () => {
    const quick = new UrlSource({ timeoutMs: 300 });
    for (const path of ["/slow", "/hang"]) {
      const err = await refusal(quick.fetch(`${http.base}${path}`, new AbortController().signal));
      expect(err.code).toBe("E_SOURCE_TIMEOUT");
      expect(err.retryable).toBe(true);
      expect(err.message).toBe(
        `${http.base}${path}: no complete answer within 300 ms; try again or check the server`,
      );
    }
  });

  it("reports a cancelled download as such, not as a timeout", async () => {
    const controller = new AbortController();
    const promise = source.fetch(`${http.base}/hang`, controller.signal);
    await eventually(() => (http.seen.some((r) => r.path === "/hang") ? true : undefined));
    controller.abort();
    const err = await refusal(promise);
    expect(err.code).toBe("E_SOURCE_ABORTED");
    expect(err.retryable).toBe(false);
  });

  it("names the status and URL of non-2xx answers; only 5xx are retryable", async () => {
    const missing = await refusal(source.fetch(`${http.base}/missing.yml`, new AbortController().signal));
    expect(missing.code).toBe("E_SOURCE_NOT_FOUND");
    expect(missing.message).toBe(`${http.base}/missing.yml answered 404 Not Found; check the URL`);
    expect(missing.retryable).toBe(false);
    const broken = await refusal(source.fetch(`${http.base}/broken`, new AbortController().signal));
    expect(broken.code).toBe("E_SOURCE_HTTP");
    expect(broken.message).toBe(
      `${http.base}/broken answered 500 Internal Server Error; the server may recover, try again later`,
    );
    expect(broken.retryable).toBe(true);
    expect((await refusal(source.fetch(`${http.base}/busy`, new AbortController().signal))).retryable).toBe(
      true,
    );
    const denied = await refusal(source.fetch(`${http.base}/private`, new AbortController().signal));
    expect(denied.message).toMatch(/answered 403 Forbidden; the server refuses access/);
    expect(denied.retryable).toBe(false);
    expect(
      (await refusal(source.fetch(`${http.base}/bad-request`, new AbortController().signal))).retryable,
    ).toBe(false);
  });

  it("reports a refused connection as retryable and unreachable", async () => {
    const closed = await startHttpFixture();
    const base = closed.base;
    await closed.close();
    const err = await refusal(source.fetch(`${base}/loki.yml`, new AbortController().signal));
    expect(err.code).toBe("E_SOURCE_UNREACHABLE");
    expect(err.retryable).toBe(true);
    expect(err.message).toBe(
      `${base}/loki.yml: cannot be fetched (connection refused); check the address and the network`,
    );
  });
});

describe("httpGet over https", () => {
  let dir: string;
  let server: ReturnType<typeof createServer>;
  let base: string;
  const previous = process.env.NODE_TLS_REJECT_UNAUTHORIZED;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "jarvis-tls-"));
    const made = spawnSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
      ],
      { encoding: "utf8", timeout: 30_000 },
    );
    if (made.status !== 0) throw new Error(`openssl failed: ${made.stderr}`);
    server = createServer(
      { key: readFileSync(join(dir, "key.pem")), cert: readFileSync(join(dir, "cert.pem")) },
      (req, res) => {
        if (req.url === "/down") {
          res.writeHead(302, { location: `${http.base}/loki.yml` });
          res.end();
        } else res.end(DESIGN);
      },
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    if (!address || typeof address !== "object") throw new Error("no port");
    base = `https://127.0.0.1:${address.port}`;
    // The certificate is self-signed and made just now; trust it for this file's process only.
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";
  });

  afterAll(async () => {
    if (previous === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    else process.env.NODE_TLS_REJECT_UNAUTHORIZED = previous;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  it("fetches over https but refuses a redirect down to plain http", async () => {
    expect((await httpGet(`${base}/loki.yml`)).body.toString()).toBe(DESIGN);
    const before = http.seen.length;
    const err = await refusal(httpGet(`${base}/down`));
    expect(err.code).toBe("E_SOURCE_REDIRECT");
    expect(err.message).toBe(
      `${base}/down redirects from https to plain http (${http.base}/loki.yml); refused, use an https URL`,
    );
    expect(http.seen.length).toBe(before);
  });
});

describe("httpGet credentials", () => {
  it("sends user:password from the URL as Basic auth and never prints it", async () => {
    const before = http.seen.length;
    const got = await httpGet(`http://bob:pa55word@127.0.0.1:${http.port}/loki.yml`);
    expect(got.body.toString()).toBe(DESIGN);
    expect(http.seen[before]?.authorization).toBe(`Basic ${Buffer.from("bob:pa55word").toString("base64")}`);
    const err = await refusal(httpGet(`http://bob:pa55word@127.0.0.1:${http.port}/missing.yml?token=s3cret`));
    expect(err.message).not.toMatch(/pa55word|s3cret|bob/);
    expect(err.message).toBe(`${http.base}/missing.yml?... answered 404 Not Found; check the URL`);
  });
});
