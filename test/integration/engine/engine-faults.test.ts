import Database from "better-sqlite3";
import { afterEach, describe, expect, it, vi } from "vitest";
import { openJarvis } from "../../../src/service.js";
import { makeJarvisEnv, designFor } from "../../helpers/jarvis-env.js";
import { eventually } from "../../helpers/net.js";
import type { Jarvis } from "../../../src/service.js";

const who = { identity: "test:faults", origin: "test" };
const open: Jarvis[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(open.splice(0).map((j) => j.close()));
});

async function setup(pipeline: string, owner: string) {
  const env = makeJarvisEnv({ pipelines: { p: pipeline } });
  const jarvis = await openJarvis(env.config(), { owner });
  open.push(jarvis);
  // The engine reports its own trouble on stderr.
  const logged: string[] = [];
  vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => void logged.push(args.join(" ")));
  return { env, jarvis, engine: jarvis.engine, logged };
}

describe("engine faults", () => {
  it("ends a run failed with E_INTERNAL and logs the cause when the engine itself fails", async () => {
    const { env, jarvis, engine, logged } = await setup("steps:\n  - ok:a\n", "faulty");
    const run = await jarvis.control.start("p", env.write("d.yml", designFor("loki")), who, {
      foreground: true,
      fileAccess: "any",
    });
    // The clipboard the run starts from is gone (a damaged store).
    const db = new Database(jarvis.config.store.path);
    db.prepare(`DELETE FROM snapshots WHERE run_id = ?`).run(run.id);
    db.close();
    const final = await engine.execute(run.id);
    expect(final.state).toBe("failed");
    expect(final.error?.code).toBe("E_INTERNAL");
    expect(final.error?.message).toContain("has no clipboard before step 1");
    expect(final.leaseOwner).toBeNull();
    expect(logged.join("\n")).toMatch(/run \w+: internal error.*no clipboard before step 1/);
    // The host is free again.
    await expect(
      jarvis.control.start("p", env.write("e.yml", designFor("loki")), who, { fileAccess: "any" }),
    ).resolves.toBeDefined();
  });

  it("renews the leases of the runs it executes, not of every run it once claimed", async () => {
    const { env, jarvis, engine } = await setup("steps:\n  - gate:open\n", "keeper");
    // Held by this owner but not executing anywhere (its process is gone): must be left to lapse.
    const idle = await jarvis.control.start("p", env.write("idle.yml", designFor("idle")), who, {
      foreground: true,
      fileAccess: "any",
    });
    const busy = await jarvis.control.start("p", env.write("busy.yml", designFor("busy")), who, {
      foreground: true,
      fileAccess: "any",
    });
    const idleExpiry = (await jarvis.store.getRun(idle.id))!.leaseExpiresAt;
    const busyExpiry = (await jarvis.store.getRun(busy.id))!.leaseExpiresAt!;
    const done = engine.execute(busy.id);
    await eventually(
      async () => ((await jarvis.store.getRun(busy.id))!.leaseExpiresAt! > busyExpiry ? true : undefined),
      30_000,
      "the executing run's lease to be renewed",
    );
    expect((await jarvis.store.getRun(idle.id))!.leaseExpiresAt).toBe(idleExpiry);
    env.write("open", "");
    expect((await done).state).toBe("succeeded");
  });
});
