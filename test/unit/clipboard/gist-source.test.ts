import type { ServerResponse } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GistSource } from "../../../src/clipboard/sources/gist-source.js";
import { SourceError } from "../../../src/errors.js";
import { startHttpFixture } from "./http-fixture.js";
import type { HttpFixture } from "./http-fixture.js";

const DESIGN = "instance:\n  hostname: loki\n";
const TOKEN = "ghp_testtoken1234567890";
let api: HttpFixture;

/** A gist as GET /gists/{id} returns it (GitHub REST API, trimmed to the fields jarvis reads). */
function gist(
  id: string,
  files: Record<string, { content?: string; truncated?: boolean; raw_url?: string }>,
): string {
  return JSON.stringify({
    id,
    url: `${api.base}/gists/${id}`,
    files: Object.fromEntries(
      Object.entries(files).map(([name, f]) => [
        name,
        {
          filename: name,
          type: "text/plain",
          language: "YAML",
          size: (f.content ?? "").length,
          raw_url: f.raw_url ?? `${api.base}/raw/${id}/${name}`,
          truncated: f.truncated ?? false,
          content: f.content,
        },
      ]),
    ),
  });
}

function json(body: string) {
  return (_req: unknown, res: ServerResponse): void => {
    res.setHeader("content-type", "application/json; charset=utf-8");
    res.end(body);
  };
}

async function refusal(promise: Promise<unknown>): Promise<SourceError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SourceError);
  return err as SourceError;
}

const signal = (): AbortSignal => new AbortController().signal;

beforeAll(async () => {
  api = await startHttpFixture();
  api.route(
    "/gists/aa11",
    json(gist("aa11", { "loki.yml": { content: DESIGN }, "README.md": { content: "# loki" } })),
  );
  api.route(
    "/gists/bb22",
    json(
      gist("bb22", {
        "loki.yml": { content: DESIGN },
        "thor.yaml": { content: "instance:\n  hostname: thor\n" },
      }),
    ),
  );
  api.route("/gists/cc33", json(gist("cc33", { "big.yml": { content: "instance:\n", truncated: true } })));
  api.route("/raw/cc33/big.yml", (_req, res) => res.end(DESIGN));
  api.route("/gists/dd44", json(gist("dd44", { "notes.txt": { content: "hi" } })));
  api.route("/gists/ee55", (_req, res) => res.end("<html>not the API</html>"));
  api.route("/raw/ff66/x.yml", (_req, res) => res.end(DESIGN));
});

afterAll(async () => {
  await api.close();
});

describe("GistSource", () => {
  const source = (): GistSource => new GistSource({ api: `${api.base}/`, token: TOKEN, timeoutMs: 10_000 });

  it("accepts gist: refs only", () => {
    expect(source().accepts("gist:aa11")).toBe(true);
    expect(source().accepts("gist:aa11/loki.yml")).toBe(true);
    expect(source().accepts("https://gist.github.com/aa11")).toBe(false);
  });

  it("reads the single YAML file of a gist, sending the token to the API", async () => {
    const before = api.seen.length;
    const got = await source().fetch("gist:aa11", signal());
    expect(got).toEqual({ text: DESIGN, origin: "gist:aa11/loki.yml" });
    expect(api.seen[before]).toMatchObject({ path: "/gists/aa11", authorization: `Bearer ${TOKEN}` });
  });

  it("sends no Authorization header without a token", async () => {
    const before = api.seen.length;
    await new GistSource({ api: api.base }).fetch("gist:aa11", signal());
    expect(api.seen[before]?.authorization).toBeUndefined();
  });

  it("refuses a gist with two YAML files unless one is named, listing them", async () => {
    const err = await refusal(source().fetch("gist:bb22", signal()));
    expect(err.code).toBe("E_SOURCE_AMBIGUOUS");
    expect(err.message).toBe(
      "gist:bb22 has several YAML files (loki.yml, thor.yaml); name one, e.g. gist:bb22/loki.yml",
    );
    expect(await source().fetch("gist:bb22/thor.yaml", signal())).toEqual({
      text: "instance:\n  hostname: thor\n",
      origin: "gist:bb22/thor.yaml",
    });
    const missing = await refusal(source().fetch("gist:bb22/odin.yml", signal()));
    expect(missing.code).toBe("E_SOURCE_NOT_FOUND");
    expect(missing.message).toBe("gist:bb22 has no file odin.yml; it has: loki.yml, thor.yaml");
  });

  it("fetches raw_url when the API truncated the content", async () => {
    const got = await source().fetch("gist:cc33", signal());
    expect(got.text.toString()).toBe(DESIGN);
    expect(api.seen.at(-1)).toMatchObject({ path: "/raw/cc33/big.yml", authorization: `Bearer ${TOKEN}` });
  });

  it("never sends the token to a raw_url on another origin", async () => {
    // localhost is another origin than 127.0.0.1, as gist.githubusercontent.com is for api.github.com.
    api.route(
      "/gists/ff66",
      json(
        gist("ff66", {
          "x.yml": { truncated: true, raw_url: `http://localhost:${api.port}/raw/ff66/x.yml` },
        }),
      ),
    );
    const got = await source().fetch("gist:ff66", signal());
    expect(got.text.toString()).toBe(DESIGN);
    expect(api.seen.at(-1)).toMatchObject({
      path: "/raw/ff66/x.yml",
      host: `localhost:${api.port}`,
      authorization: undefined,
    });
  });

  it("says when a gist has no YAML file, does not exist, or the API is not GitHub's", async () => {
    const none = await refusal(source().fetch("gist:dd44", signal()));
    expect(none.code).toBe("E_SOURCE_NOT_FOUND");
    expect(none.message).toBe("gist:dd44 has no .yml or .yaml file; it has: notes.txt");
    const gone = await refusal(new GistSource({ api: api.base }).fetch("gist:0000", signal()));
    expect(gone.code).toBe("E_SOURCE_NOT_FOUND");
    expect(gone.message).toBe(
      `gist:0000 not found at ${api.base}/gists/0000; check the id; a secret gist needs GITHUB_TOKEN`,
    );
    const html = await refusal(source().fetch("gist:ee55", signal()));
    expect(html.code).toBe("E_SOURCE_FORMAT");
    expect(html.message).toMatch(/^gist:ee55: the API answer is not JSON/);
  });

  it("refuses malformed refs", async () => {
    for (const ref of ["gist:", "gist:../etc/passwd", "gist:aa11/dir/x.yml"]) {
      const err = await refusal(source().fetch(ref, signal()));
      expect(err.code).toBe("E_SOURCE_REF");
      expect(err.message).toBe(`${ref}: not a gist reference; write gist:<id> or gist:<id>/<file.yml>`);
    }
  });

  it("keeps the token out of every error message", async () => {
    for (const ref of ["gist:0000", "gist:bb22", "gist:ee55"]) {
      const err = await refusal(source().fetch(ref, signal()));
      expect(err.message).not.toContain(TOKEN);
    }
  });
});
