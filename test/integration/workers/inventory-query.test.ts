/** The built `inventory:query` step, spawned as the engine does, over a node file on disk. */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runStep } from "./run-step.js";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "jarvis-inventory-"));
  await writeFile(
    join(dir, "nodes.yml"),
    [
      "nodes:",
      "  - host: app-01",
      "    groups: [app]",
      "    online: true",
      "    facts: {ipaddresses: [10.0.0.1], packages: {nginx: 1.22.1-9}}",
      "  - host: app-02",
      "    groups: [app]",
      "    facts: {ipaddresses: [10.0.0.2], packages: {nginx: 1.18.0-6.1}}",
      "  - host: db-01",
      "    groups: [db]",
      "    facts: {}",
      "",
    ].join("\n"),
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("inventory:query step process", () => {
  it("writes the app servers and their addresses on the clipboard", async () => {
    const result = await runStep(
      "workers/inventory",
      "query",
      { instance: { hostname: "proxy" } },
      {
        cwd: dir,
        params: {
          where: "group=app and packages.nginx>=1.20",
          facts: ["ipaddresses"],
          name: "backends",
          directory: { kind: "file", path: join(dir, "nodes.yml") },
        },
      },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.clipboard).toEqual({
      instance: { hostname: "proxy" },
      inventory: {
        backends: {
          where: "group=app and packages.nginx>=1.20",
          count: 1,
          hosts: [{ host: "app-01", online: true, groups: ["app"], facts: { ipaddresses: ["10.0.0.1"] } }],
        },
      },
    });
  });

  it("fails, not retryable, on a selector error, naming the column", async () => {
    const result = await runStep(
      "workers/inventory",
      "query",
      {},
      {
        cwd: dir,
        params: { where: "group=(", directory: { kind: "file", path: join(dir, "nodes.yml") } },
      },
    );
    expect(result.code).toBe(1);
    expect(result.lastLine).toBe("selector: expected a value after '=', found '(' at column 7");
  });

  it("says where to configure the directory when none is set", async () => {
    const result = await runStep(
      "workers/inventory",
      "query",
      {},
      { cwd: dir, params: { where: "group=app" } },
    );
    expect(result.code).toBe(1);
    expect(result.lastLine).toMatch(/set modules.inventory.with.directory in jarvis.yml/);
  });

  it("names the node file and entry that is malformed", async () => {
    await writeFile(join(dir, "bad.yml"), "nodes:\n  - host: a\n    groups: web\n");
    const result = await runStep(
      "workers/inventory",
      "query",
      {},
      {
        cwd: dir,
        params: { where: "group=app", directory: { kind: "file", path: join(dir, "bad.yml") } },
      },
    );
    expect(result.code).toBe(1);
    expect(result.lastLine).toBe(
      `node file ${join(dir, "bad.yml")}: nodes[0].groups must be a list of group names`,
    );
  });
});
