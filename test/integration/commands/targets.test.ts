/**
 * `<host|run|group>` words are resolved against the store, never read by their shape (defect 4),
 * and the ACL judges the host a word resolved to: a run id is not matched against host patterns.
 * The chat side is driven through the console adapter, the same path every network takes.
 */
import { afterEach, describe, expect, it } from "vitest";
import { PassThrough } from "node:stream";
import { openJarvis } from "../../../src/service.js";
import type { Jarvis } from "../../../src/service.js";
import { startBot } from "../../../src/bot/bot.js";
import type { Bot } from "../../../src/bot/bot.js";
import { consoleIdentity } from "../../../src/bot/identity.js";
import { designFor, makeJarvisEnv } from "../../helpers/jarvis-env.js";
import { eventually } from "../../helpers/net.js";

const who = { identity: "test:targets", origin: "test" };
const open: { jarvis: Jarvis; bot?: Bot }[] = [];
afterEach(async () => {
  for (const { jarvis, bot } of open.splice(0)) {
    await bot?.close();
    await jarvis.close();
  }
});

describe("targets", () => {
  it("finds a host whose name starts with g- (status, log); its run id names its run", async () => {
    const env = makeJarvisEnv({ pipelines: { p: "steps:\n  - ok:first\n" } });
    const jarvis = await openJarvis(env.config());
    open.push({ jarvis });
    const run = await jarvis.control.start("p", env.write("g-web.yml", designFor("g-web")), who, {
      foreground: true,
      fileAccess: "any",
    });
    await jarvis.engine.execute(run.id);
    const [detail, ...more] = await jarvis.control.status("g-web");
    expect(more).toEqual([]);
    expect(detail?.run).toMatchObject({ host: "g-web", state: "succeeded", id: run.id });
    expect((await jarvis.control.log("g-web")).map((l) => l.line)).toContain("ok: adding fixture key");
    await expect(jarvis.control.resolveTarget(run.id)).resolves.toEqual({
      kind: "run",
      runId: run.id,
      host: "g-web",
    });
    await expect(jarvis.control.resolveTarget("g-web")).resolves.toEqual({ kind: "host", host: "g-web" });
  });

  it("checks the ACL on the host a run id resolves to", async () => {
    const env = makeJarvisEnv({
      pipelines: { p: "steps:\n  - ok:first\n" },
      extraConfig: `
acl:
  roles:
    web-ops: {commands: [cancel], hosts: ["web-*"]}
  people:
    me: {roles: [web-ops], identities: ["${consoleIdentity()}"]}
`,
    });
    // Not executing: the runs stay queued, so cancelling one is a plain store change.
    const jarvis = await openJarvis(env.config());
    const input = new PassThrough();
    const output = new PassThrough();
    let said = "";
    output.on("data", (chunk: Buffer) => (said += chunk.toString()));
    const bot = await startBot(jarvis, { input, output, interactive: true, log: () => undefined });
    open.push({ jarvis, bot });
    const [web] = await jarvis.control.startAll("p", env.write("web-1.yml", designFor("web-1")), who, {
      fileAccess: "any",
    });
    const [db] = await jarvis.control.startAll("p", env.write("db1.yml", designFor("db1")), who, {
      fileAccess: "any",
    });

    input.write(`cancel ${db!.id}\n`);
    await eventually(() => (said.includes("denied") ? true : undefined), 30_000, `a refusal in ${said}`);
    expect(said).toContain("cancel on db1 is not allowed");
    expect((await jarvis.store.getRun(db!.id))?.state).toBe("queued");

    input.write(`cancel ${web!.id}\n`);
    await eventually(
      () => (said.includes("cancel requested") ? true : undefined),
      30_000,
      `a cancel in ${said}`,
    );
    expect(said).toContain(`web-1: cancel requested for run ${web!.id}`);
    expect((await jarvis.store.getRun(web!.id))?.state).toBe("cancelled");

    const audit = await jarvis.store.listAudit(10);
    expect(audit.map((a) => [a.command, a.decision, a.runId])).toEqual([
      [`cancel ${web!.id}`, "allowed", web!.id],
      [`cancel ${db!.id}`, "denied", null],
    ]);
  });
});
