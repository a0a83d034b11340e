/** The fleet store contract on SQLite: fresh files; twins are two connections to one file. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openFleetStore, openSqliteFleetStore } from "../../../src/nodes/fleet-store.js";
import { fleetStoreContract } from "../../contract/fleet-store.contract.js";

const dir = mkdtempSync(join(tmpdir(), "jarvis-fleet-"));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

fleetStoreContract(
  "sqlite",
  async () => openSqliteFleetStore(join(dir, `fleet-${++n}.sqlite`)),
  async () => {
    const file = join(dir, `fleet-${++n}.sqlite`);
    return [openSqliteFleetStore(file), openSqliteFleetStore(file)];
  },
);

describe("openFleetStore", () => {
  it("opens the fleet store of the kind jarvis.yml names, and refuses one nobody provides", async () => {
    const path = join(dir, "by-kind.sqlite");
    const fleet = await openFleetStore({ kind: "sqlite", path });
    await fleet.nodes.recordHeartbeat({
      host: "web-1",
      at: 1,
      agentVersion: "1",
      groups: [],
      offlineAfterMs: 1000,
    });
    await fleet.close();
    const again = openSqliteFleetStore(path);
    expect((await again.nodes.list()).map((node) => node.host)).toEqual(["web-1"]);
    await again.close();
    await expect(openFleetStore({ kind: "postgress", path })).rejects.toThrow(/store.kind 'postgress'/);
  });
});
