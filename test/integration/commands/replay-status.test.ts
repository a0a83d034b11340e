/**
 * Replay and the per-host index through the built CLI: a run replayed onto two other hosts with
 * its pipeline and force flag, each on its host's own design; and `status` listing every host,
 * also one whose only run is older than the newest 5,000 runs (the old scan's blind spot).
 */
import Database from "better-sqlite3";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { designFor, makeJarvisEnv } from "../../helpers/jarvis-env.js";

interface RunJson {
  run: string;
  host: string;
  pipeline: string;
  state: string;
  source: string;
  forced: boolean;
}

describe("replay and every host's status", () => {
  it("replays a run onto two other hosts, each on its own design, with the same pipeline and force", async () => {
    const env = makeJarvisEnv({ pipelines: { p: "steps:\n  - ok:first\n" } });
    for (const host of ["loki", "thor", "odin"]) {
      const args = ["run", "p", env.write(`${host}.yml`, designFor(host))];
      const done = await env.cli(host === "loki" ? [...args, "--force"] : args);
      expect(done.code, done.stderr).toBe(0);
    }
    const replay = await env.cli(["replay", "loki", "on", "thor", "odin"]);
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stdout).toMatch(/thor: run \w+ of p started \(replay\)/);
    for (const host of ["thor", "odin"]) {
      const history = JSON.parse((await env.cli(["history", host, "--json"])).stdout) as RunJson[];
      expect(history).toHaveLength(2);
      expect(history[0]).toMatchObject({ host, pipeline: "p", state: "succeeded", forced: true });
      expect(history[0]!.source).toBe(join(env.dir, `${host}.yml`));
      expect(history[1]!.forced).toBe(false);
    }
    const detached = await env.cli([
      "replay",
      "loki",
      "--source",
      env.write("freya.yml", designFor("freya")),
      "--detach",
      "--json",
    ]);
    expect(detached.code, detached.stderr).toBe(0);
    expect(JSON.parse(detached.stdout)).toMatchObject([{ host: "freya", state: "queued", forced: true }]);
    const wrong = await env.cli(["replay", "loki", "thor"]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain("replay takes 'on' and the hosts");
    const audit = JSON.parse((await env.cli(["audit", "--json"])).stdout) as { command: string }[];
    expect(audit.map((a) => a.command)).toContain("replay loki on thor odin");
  }, 180_000);

  it("lists every host, also one whose only run is older than the newest 5,000 runs", async () => {
    const env = makeJarvisEnv({ pipelines: { p: "steps:\n  - ok:first\n" } });
    const first = await env.cli(["run", "p", env.write("aaa-old.yml", designFor("aaa-old"))]);
    expect(first.code, first.stderr).toBe(0);
    const db = new Database(join(env.dir, "jarvis.sqlite"));
    const insert = db.prepare(
      `INSERT INTO runs (id, host, pipeline, pipeline_json, state, step_index, step_name, total_steps,
         requested_by, origin, source, created_at)
       VALUES (?, ?, 'p', '{}', 'succeeded', 0, 'ok:first', 1, 'test', 'cli', ?, ?)`,
    );
    const later = Date.now() + 1000;
    db.transaction(() => {
      for (let i = 0; i < 6000; i++) {
        const host = `busy${i % 3}`;
        insert.run(`bulk${String(i).padStart(4, "0")}`, host, `cn=${host}`, later + i);
      }
    })();
    db.close();
    const all = await env.cli(["status", "--json"]);
    expect(all.code, all.stderr).toBe(0);
    const hosts = (JSON.parse(all.stdout) as RunJson[]).map((r) => r.host);
    expect(hosts).toEqual(["aaa-old", "busy0", "busy1", "busy2"]);
    const page = await env.cli(["status", "--limit", "2"]);
    expect(page.code, page.stderr).toBe(0);
    expect(page.stdout.trim().split("\n")).toHaveLength(2);
    expect(page.stderr).toContain("more: jarvis status --limit 2 --after busy0");
    const rest = await env.cli(["status", "--limit", "2", "--after", "busy0"]);
    expect(rest.stdout).toMatch(/^busy1: .*\nbusy2: /);
  }, 180_000);
});
