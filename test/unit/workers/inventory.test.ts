import { describe, expect, it } from "vitest";
import { queryInto, queryOf } from "../../../src/workers/inventory.js";
import { fixedNodeDirectory } from "../../../src/inventory/select-nodes.js";
import type { NodeView } from "../../../src/inventory/node-view.js";
import { inventoryParams } from "../../../src/workers/worker-params.js";

const app = (host: string, ip: string, online = true): NodeView => ({
  host,
  groups: ["app"],
  online,
  lastSeen: 1,
  agentVersion: "1",
  facts: { ipaddresses: [ip], os: { release: "12" } },
});

const directory = fixedNodeDirectory([
  app("app-02", "10.0.0.2"),
  app("app-01", "10.0.0.1"),
  { ...app("db-01", "10.0.1.1"), groups: ["db"] },
]);

describe("inventory:query", () => {
  it("puts the matching hosts and the chosen facts under inventory.<name>, keeping other queries", async () => {
    const lines: string[] = [];
    const out = await queryInto(
      { instance: { hostname: "proxy" }, inventory: { db: { where: "group=db", count: 1, hosts: [] } } },
      { where: "group=app", facts: ["ipaddresses", "os.release", "datacenter"], name: "app_servers" },
      directory,
      (line) => lines.push(line),
    );
    expect(out.inventory).toEqual({
      db: { where: "group=db", count: 1, hosts: [] },
      app_servers: {
        where: "group=app",
        count: 2,
        hosts: [
          {
            host: "app-01",
            online: true,
            groups: ["app"],
            facts: { ipaddresses: ["10.0.0.1"], "os.release": "12", datacenter: null },
          },
          {
            host: "app-02",
            online: true,
            groups: ["app"],
            facts: { ipaddresses: ["10.0.0.2"], "os.release": "12", datacenter: null },
          },
        ],
      },
    });
    expect(lines).toEqual(["inventory: 2 node(s) where group=app"]);
  });

  it("defaults to the name 'nodes' and no facts", async () => {
    const out = await queryInto({}, { where: "host=db-01" }, directory, () => {});
    expect(out.inventory).toEqual({
      nodes: {
        where: "host=db-01",
        count: 1,
        hosts: [{ host: "db-01", online: true, groups: ["db"], facts: {} }],
      },
    });
  });

  it("refuses bad parameters with the step's own words", () => {
    expect(() => queryOf({})).toThrow(/needs with.where/);
    expect(() => queryOf({ where: "group=app", facts: "ip" })).toThrow(/with.facts must be a list/);
    expect(() => queryOf({ where: "group=app", name: "a b" })).toThrow(/with.name/);
  });

  it("checks the selector when the pipeline is loaded, with its column", () => {
    const result = inventoryParams.safeParse({ where: "group=app and memory.mb>=" });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toBe("selector: expected a value after '>=' at column 26");
    expect(
      inventoryParams.safeParse({ where: "group=app", directory: { kind: "ldap", path: "x" } }).success,
    ).toBe(false);
  });
});
