/**
 * A real HTTP server on 127.0.0.1 for the url and gist source tests: routes are plain handlers,
 * and every request is recorded (path and headers) so tests can check what the client sent.
 */
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";

/** One recorded request. */
export interface SeenRequest {
  path: string;
  host: string | undefined;
  authorization: string | undefined;
}

/** A running test server. */
export interface HttpFixture {
  /** http://127.0.0.1:PORT */
  base: string;
  port: number;
  seen: SeenRequest[];
  route(path: string, handler: (req: IncomingMessage, res: ServerResponse) => void): void;
  close(): Promise<void>;
}

/** Start a server answering 404 for every path without a route. */
export async function startHttpFixture(): Promise<HttpFixture> {
  const routes = new Map<string, (req: IncomingMessage, res: ServerResponse) => void>();
  const seen: SeenRequest[] = [];
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    seen.push({ path, host: req.headers.host, authorization: req.headers.authorization });
    const handler = routes.get(path);
    if (handler) handler(req, res);
    else {
      res.statusCode = 404;
      res.end("not found");
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address !== "object") throw new Error("test server has no port");
  return {
    base: `http://127.0.0.1:${address.port}`,
    port: address.port,
    seen,
    route: (path, handler) => routes.set(path, handler),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
