import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openSqliteStore } from "../../../src/store/sqlite-store.js";
import { openStore } from "../../../src/store/registry.js";
import { runStoreContract } from "../../contract/run-store.contract.js";

const dir = mkdtempSync(join(tmpdir(), "jarvis-store-"));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

runStoreContract(
  "sqlite",
  async () => openSqliteStore(join(dir, `store-${++n}.sqlite`)),
  async () => {
    const file = join(dir, `store-${++n}.sqlite`);
    return [openSqliteStore(file), openSqliteStore(file)];
  },
);

describe("store registry", () => {
  it("opens the kind jarvis.yml names and refuses one nobody provides", async () => {
    const store = await openStore({ kind: "sqlite", path: join(dir, "registry.sqlite") });
    expect(await store.latestSeq()).toBe(0);
    await store.close();
    await expect(openStore({ kind: "postgress", path: "x" })).rejects.toThrow(
      /store.kind 'postgress'.*stores: sqlite, postgres/,
    );
  });
});
