/**
 * Schedules against real `jarvis start` processes: an `at` schedule made over the API fires
 * exactly once with two services sharing one store, and an occurrence missed while no service ran
 * is skipped (misfire skip) or run once, late (misfire once), and recorded either way, as
 * `jarvis schedules` shows. Short misfire grace and poll interval come from `schedules:`.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { designFor, makeJarvisEnv } from "../../helpers/jarvis-env.js";
import { stopChild } from "../../helpers/daemon.js";
import { eventually } from "../../helpers/net.js";
import { startApiJarvis } from "../../helpers/api-jarvis.js";
import type { ChildProcess } from "node:child_process";
import type { JarvisEnv } from "../../helpers/jarvis-env.js";

const pipelines = { quick: "steps:\n  - ok:first\n  - sleepy:0\n" };
const HOSTS = ["loki", "thor", "odin"];

/** Every process a test started, stopped after it. */
const stoppers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stoppers.splice(0).reverse()) await stop();
});

interface OccurrenceJson {
  at: string;
  action: "ran" | "skipped";
  late: boolean;
  run_id: string | null;
  error: string | null;
  handled_by: string;
}
interface ScheduleJson {
  id: string;
  source: string;
  next_at: string | null;
  occurrences: OccurrenceJson[];
}

function writeDesigns(dir: string): void {
  mkdirSync(join(dir, "designs"), { recursive: true });
  for (const host of HOSTS) writeFileSync(join(dir, "designs", `${host}.yml`), designFor(host));
}

/** `jarvis start` on `env` (its config, or `configPath`), waited for until it says it started. */
async function startService(env: JarvisEnv, configPath?: string): Promise<ChildProcess> {
  const child = env.spawnCli(["start"], configPath ? { env: { JARVIS_CONFIG: configPath } } : {});
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => void (stderr += c.toString()));
  child.stdout?.resume();
  const exited = new Promise((r) => child.once("exit", r));
  stoppers.push(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    await exited;
  });
  await eventually(() => (stderr.includes("jarvis: started") ? true : undefined), 60_000, "jarvis started");
  return child;
}

async function schedulesOf(env: JarvisEnv): Promise<ScheduleJson[]> {
  const { code, stdout, stderr } = await env.cli(["schedules", "--json"]);
  expect(code, stderr).toBe(0);
  return JSON.parse(stdout) as ScheduleJson[];
}

const scheduling = "schedules:\n  misfire_grace_seconds: 30\n  poll_seconds: 0.2";

describe("schedules", () => {
  it("fires an `at` schedule exactly once with two services on one store", async () => {
    const jarvis = await startApiJarvis({ pipelines, extraConfig: scheduling });
    stoppers.push(() => jarvis.stop());
    writeDesigns(jarvis.env.dir);
    // The second service shares the store; its API is off so it does not contend for the port.
    const second = jarvis.env.write(
      "second.yml",
      readFileSync(jarvis.env.configPath, "utf8").replace(/^api:\n(?: {2}.*\n)+/m, "api: false\n"),
    );
    await startService(jarvis.env, second);

    const at = new Date(Date.now() + 6_000).toISOString();
    const ids: string[] = [];
    for (const host of HOSTS) {
      const created = await jarvis.call("/schedules", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ pipeline: "quick", source: `${host}.yml`, at, misfire: "skip" }),
      });
      expect(created.status).toBe(201);
      const body = (await created.json()) as ScheduleJson;
      expect(body).toMatchObject({ source: `${host}.yml`, next_at: at, occurrences: [] });
      ids.push(body.id);
    }

    let seen: unknown;
    const fired = await eventually(
      async () => {
        const { schedules } = (await (await jarvis.call("/schedules")).json()) as {
          schedules: ScheduleJson[];
        };
        seen = schedules;
        return schedules.every((s) => s.occurrences[0]?.run_id) ? schedules : undefined;
      },
      90_000,
      "every schedule's run started",
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}; schedules: ${JSON.stringify(seen)}; stderr: ${jarvis.stderr()}`);
    });
    for (const schedule of fired) {
      expect(schedule.next_at).toBeNull();
      expect(schedule.occurrences).toHaveLength(1);
      expect(schedule.occurrences[0]).toMatchObject({ at, action: "ran", late: false, error: null });
    }
    // One run per schedule, each requested by its schedule, and no other.
    for (const [i, host] of HOSTS.entries()) {
      const page = (await (await jarvis.call(`/runs?host=${host}`)).json()) as {
        runs: { id: string; requested_by: string; pipeline: string }[];
      };
      expect(page.runs).toHaveLength(1);
      expect(page.runs[0]).toMatchObject({
        id: fired.find((s) => s.id === ids[i])?.occurrences[0]?.run_id,
        pipeline: "quick",
        requested_by: `schedule:${ids[i]}`,
      });
    }
    const removed = await jarvis.call(`/schedules/${ids[0]}`, { method: "DELETE" });
    expect(removed.status).toBe(204);
    expect((await jarvis.call(`/schedules/${ids[0]}`, { method: "DELETE" })).status).toBe(404);
  }, 240_000);

  it("skips or runs once an occurrence missed while jarvis was down, and records it", async () => {
    const graceMs = 1_000;
    const env = makeJarvisEnv({
      pipelines,
      extraConfig: `schedules:\n  misfire_grace_seconds: ${graceMs / 1000}\n  poll_seconds: 0.2`,
    });
    writeDesigns(env.dir);
    await stopChild(await startService(env));

    // Scheduled while no service runs; its time and the grace pass before one starts again.
    // Far enough ahead that both CLI calls (seconds each on a busy machine) come before it.
    const at = Date.now() + 40_000;
    const when = new Date(at).toISOString();
    for (const [host, misfire] of [
      ["loki", "skip"],
      ["thor", "once"],
    ] as const) {
      const made = await env.cli([
        "schedule",
        "quick",
        `designs/${host}.yml`,
        "at",
        when,
        "misfire",
        misfire,
      ]);
      expect(made.code, made.stderr).toBe(0);
    }
    await eventually(() => (Date.now() > at + graceMs + 1_000 ? true : undefined), 60_000, "missed");
    expect((await schedulesOf(env)).every((s) => s.occurrences.length === 0)).toBe(true);
    await startService(env);

    const handled = await eventually(
      async () => {
        const schedules = await schedulesOf(env);
        return schedules.every((s) => s.occurrences[0]?.action === "skipped" || s.occurrences[0]?.run_id)
          ? schedules
          : undefined;
      },
      90_000,
      "both missed occurrences handled",
    );
    const [skipped, once] = handled;
    expect(skipped?.source).toBe(join(env.dir, "designs/loki.yml"));
    expect(skipped?.occurrences).toEqual([
      expect.objectContaining({ at: when, action: "skipped", late: true, run_id: null }),
    ]);
    expect(once?.source).toBe(join(env.dir, "designs/thor.yml"));
    expect(once?.occurrences).toEqual([
      expect.objectContaining({ at: when, action: "ran", late: true, run_id: expect.any(String) }),
    ]);
    const runId = once?.occurrences[0]?.run_id ?? "";
    await eventually(
      async () => ((await env.cli(["status", runId])).stdout.includes("succeeded") ? true : undefined),
      90_000,
      "the late run finished",
    );
    const lokiRuns = await env.cli(["history", "loki", "--json"]);
    expect(JSON.parse(lokiRuns.stdout)).toEqual([]);
    // The text listing says so too.
    const text = await env.cli(["schedules"]);
    expect(text.stdout).toContain("skipped (missed while jarvis was down)");
    expect(text.stdout).toContain(`ran ${runId} (late, misfire once)`);
  }, 240_000);
});
