import { afterEach, describe, expect, it } from "vitest";
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { openJarvis } from "../../../src/service.js";
import { makeJarvisEnv, designFor } from "../../helpers/jarvis-env.js";
import { eventually } from "../../helpers/net.js";
import type { Jarvis } from "../../../src/service.js";

const who = { identity: "test:engine", origin: "test" };
// These runs are started as the CLI starts them, by a local operator who may name any file.
const cli = { fileAccess: "any" } as const;
const open: Jarvis[] = [];
async function jarvisFor(env: ReturnType<typeof makeJarvisEnv>, owner?: string): Promise<Jarvis> {
  const j = await openJarvis(env.config(), owner ? { owner } : {});
  open.push(j);
  return j;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((j) => j.close()));
});

function lines(path: string): string[] {
  return existsSync(path) ? readFileSync(path, "utf8").trim().split("\n").filter(Boolean) : [];
}

describe("engine", () => {
  it("runs steps in order, keeps every clipboard, and reports position", async () => {
    const env = makeJarvisEnv({
      pipelines: { p: "steps:\n  - ok:first\n  - count:second\n  - silent:third\n" },
    });
    const design = env.write("loki.yml", designFor("loki"));
    const j = await jarvisFor(env);
    const run = await j.control.start("p", design, who, { ...cli, foreground: true });
    const final = await j.engine.execute(run.id);
    expect(final.state).toBe("succeeded");
    const after1 = await j.control.clipboardValue("loki", 1);
    expect(after1.fixture_ok).toEqual({ task: "first", run: run.id });
    expect(await j.control.clipboardValue("loki", 3)).toEqual(after1);
    expect(await j.control.clipboardValue("loki", 0)).toEqual({
      instance: { hostname: "loki", provider: "local" },
    });
    expect(await j.control.diff("loki", 1)).toContain("fixture_ok");
    expect(lines(join(env.dir, "count-second.log"))).toEqual([run.id]);
    const [detail] = await j.control.status("loki");
    expect(detail!.steps.map((s) => s.state)).toEqual(["ok", "ok", "ok"]);
  });

  it("retries retryable failures with backoff, then runs on_failure and fails naming the step", async () => {
    const env = makeJarvisEnv({
      pipelines: {
        p: "steps:\n  - uses: tempfail:x\n    retries: 2\n    backoff: 50ms\n  - count:never\non_failure:\n  - count:cleanup\n",
      },
    });
    const j = await jarvisFor(env);
    const run = await j.control.start("p", env.write("d.yml", designFor("loki")), who, {
      ...cli,
      foreground: true,
    });
    const final = await j.engine.execute(run.id);
    expect(final.state).toBe("failed");
    expect(final.error?.message).toBe("tempfail:x: server busy, try later");
    const steps = await j.store.listSteps(run.id);
    expect(steps[0]).toMatchObject({ state: "failed", attempts: 3 });
    expect(steps[1]).toMatchObject({ state: "pending" });
    expect(steps[2]).toMatchObject({ state: "ok", onFailure: true });
    expect(lines(join(env.dir, "count-never.log"))).toEqual([]);
    expect(lines(join(env.dir, "count-cleanup.log"))).toEqual([run.id]);
    const log = (await j.control.log("loki")).map((l) => l.line);
    expect(log.filter((l) => l.includes("retrying in"))).toHaveLength(2);
  });

  it("does not retry a permanent failure", async () => {
    const env = makeJarvisEnv({ pipelines: { p: "steps:\n  - uses: fail:x\n    retries: 5\n" } });
    const j = await jarvisFor(env);
    const run = await j.control.start("p", env.write("d.yml", designFor("loki")), who, {
      ...cli,
      foreground: true,
    });
    const final = await j.engine.execute(run.id);
    expect(final.error?.message).toContain("the API refused the token");
    expect((await j.store.listSteps(run.id))[0]!.attempts).toBe(1);
  });

  it("times a step out, killing it, and skips steps whose if is false", async () => {
    const env = makeJarvisEnv({
      pipelines: {
        p: "steps:\n  - uses: count:skipme\n    if: instance.hostname == 'thor'\n  - uses: sleepy:30\n    timeout: 1s\n",
      },
    });
    const j = await jarvisFor(env);
    const run = await j.control.start("p", env.write("d.yml", designFor("loki")), who, {
      ...cli,
      foreground: true,
    });
    const final = await j.engine.execute(run.id);
    expect(final.state).toBe("failed");
    expect(final.error?.code).toBe("E_STEP_TIMEOUT");
    const steps = await j.store.listSteps(run.id);
    expect(steps[0]!.state).toBe("skipped");
    expect(lines(join(env.dir, "count-skipme.log"))).toEqual([]);
  });

  it("refuses a second run on the same host, naming the run that holds it", async () => {
    const env = makeJarvisEnv({ pipelines: { p: "steps:\n  - ok:a\n" } });
    const j = await jarvisFor(env);
    const design = env.write("d.yml", designFor("loki"));
    const first = await j.control.start("p", design, who, cli);
    await expect(j.control.start("p", design, who, cli)).rejects.toMatchObject({
      code: "E_HOST_BUSY",
      message: expect.stringContaining(first.id),
    });
    const other = await j.control.start("p", env.write("e.yml", designFor("thor")), who, cli);
    expect(other.host).toBe("thor");
  });

  it("cancels a running run from another process: the step is killed and on_failure runs", async () => {
    const env = makeJarvisEnv({
      pipelines: { p: "steps:\n  - sleepy:60\non_failure:\n  - count:cleanup\n" },
    });
    const executor = await jarvisFor(env, "executor");
    const other = await jarvisFor(env, "other");
    const run = await executor.control.start("p", env.write("d.yml", designFor("loki")), who, {
      ...cli,
      foreground: true,
    });
    const done = executor.engine.execute(run.id);
    await eventually(async () =>
      (await other.store.listSteps(run.id))[0]?.state === "running" ? true : undefined,
    );
    await other.control.cancel("loki", who);
    const final = await done;
    expect(final.state).toBe("cancelled");
    expect(lines(join(env.dir, "count-cleanup.log"))).toEqual([run.id]);
  });

  it("retries a failed run from the failed step with an edited clipboard", async () => {
    const env = makeJarvisEnv({
      pipelines: { p: "steps:\n  - count:before\n  - guard:check\n  - count:after\n" },
    });
    const j = await jarvisFor(env);
    const run = await j.control.start("p", env.write("d.yml", designFor("loki")), who, {
      ...cli,
      foreground: true,
    });
    expect((await j.engine.execute(run.id)).state).toBe("failed");
    await expect(j.control.retry("loki", who, "not: [valid")).rejects.toMatchObject({
      code: "E_YAML_SYNTAX",
    });
    const edited = `${await j.control.clipboard("loki", 1)}fixed: true\n`;
    await j.control.retry("loki", who, edited, { ...cli, foreground: true });
    const final = await j.engine.execute(run.id);
    expect(final.state).toBe("succeeded");
    expect(lines(join(env.dir, "count-before.log"))).toHaveLength(1);
    expect(lines(join(env.dir, "count-after.log"))).toHaveLength(1);
    expect((await j.control.clipboardValue("loki")).fixed).toBe(true);
    await expect(j.control.retry("loki", who)).rejects.toMatchObject({ code: "E_RUN_STATE" });
  });

  it("hides secrets in logs, errors and clipboards shown, while the store keeps them", async () => {
    const env = makeJarvisEnv({
      pipelines: { p: "steps:\n  - secret:use\n" },
      extraConfig: "modules:\n  secret:\n    env:\n      DEMO_TOKEN: ${TEST_DEMO_TOKEN}\n",
    });
    process.env.TEST_DEMO_TOKEN = "s3cr3t-value-42";
    const j = await jarvisFor(env);
    const run = await j.control.start("p", env.write("d.yml", designFor("loki")), who, {
      ...cli,
      foreground: true,
    });
    expect((await j.engine.execute(run.id)).state).toBe("succeeded");
    const shown = [
      ...(await j.control.log("loki")).map((l) => l.line),
      await j.control.clipboard("loki"),
      await j.control.diff("loki", 1),
    ].join("\n");
    expect(shown).not.toContain("s3cr3t-value-42");
    expect(shown).toContain("***");
    expect(await j.store.getSnapshot(run.id, 0, "output")).toContain("s3cr3t-value-42");
  });

  it("runs many runs at once in one process", async () => {
    const env = makeJarvisEnv({ pipelines: { p: "steps:\n  - ok:a\n  - count:b\n  - silent:c\n" } });
    const j = await jarvisFor(env);
    const runs = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        j.control.start("p", env.write(`h${i}.yml`, designFor(`h${i}`)), who, { ...cli, foreground: true }),
      ),
    );
    const finals = await Promise.all(runs.map((r) => j.engine.execute(r.id)));
    expect(finals.filter((r) => r.state !== "succeeded").map((r) => r.error)).toEqual([]);
    expect(lines(join(env.dir, "count-b.log")).sort()).toEqual(runs.map((r) => r.id).sort());
  });
});

describe("clusters", () => {
  const cluster = (dbStep: string) =>
    [
      "shared: {zone: example.test}",
      "instances:",
      "  - hostname: web1",
      "    after: db",
      "  - hostname: db",
      `    tags: [${dbStep}]`,
      "  - hostname: web2",
      "    after: [db]",
      "",
    ].join("\n");

  it("starts one run per host, each after the runs it waits for, and reports the group", async () => {
    const env = makeJarvisEnv({ pipelines: { p: "steps:\n  - count:all\n" } });
    const j = await jarvisFor(env);
    const runs = await j.control.startAll("p", env.write("c.yml", cluster("ok")), who, {
      ...cli,
      foreground: true,
    });
    expect(runs.map((r) => r.host)).toEqual(["db", "web1", "web2"]);
    expect(runs[1]!.after).toEqual([runs[0]!.id]);
    expect(new Set(runs.map((r) => r.group)).size).toBe(1);
    const finals = await j.control.executeAll(runs);
    expect(finals.map((r) => r.state)).toEqual(["succeeded", "succeeded", "succeeded"]);
    expect(lines(join(env.dir, "count-all.log"))[0]).toBe(runs[0]!.id);
    expect((await j.control.clipboardValue("web2", 0)).shared).toEqual({ zone: "example.test" });
    expect((await j.control.status(runs[0]!.group!)).map((d) => d.run.host).sort()).toEqual([
      "db",
      "web1",
      "web2",
    ]);
  });

  it("does not start hosts whose predecessor failed (service mode)", async () => {
    const env = makeJarvisEnv({
      pipelines: { p: "steps:\n  - uses: fail:x\n    if: instance.hostname == 'db'\n  - count:all\n" },
    });
    const j = await openJarvis(env.config(), { execute: true, pollMs: 100 });
    open.push(j);
    const runs = await j.control.startAll("p", env.write("c.yml", cluster("x")), who, cli);
    const finals = await eventually(async () => {
      const all = await Promise.all(runs.map((r) => j.store.getRun(r.id)));
      return all.every((r) => r && (r.state === "failed" || r.state === "cancelled")) ? all : undefined;
    });
    expect(finals.map((r) => r!.state)).toEqual(["failed", "cancelled", "cancelled"]);
    expect(finals[1]!.error?.code).toBe("E_RUN_DEPENDENCY");
    expect(lines(join(env.dir, "count-all.log"))).toEqual([]);
  });

  it("refuses a cluster with a cycle, naming the line", async () => {
    const env = makeJarvisEnv({ pipelines: { p: "steps:\n  - ok:a\n" } });
    const j = await jarvisFor(env);
    const bad = env.write(
      "c.yml",
      "instances:\n  - hostname: a\n    after: b\n  - hostname: b\n    after: a\n",
    );
    await expect(j.control.startAll("p", bad, who, cli)).rejects.toMatchObject({
      code: "E_DESIGN_CYCLE",
      message: expect.stringMatching(/c\.yml:\d+/),
    });
  });
});
