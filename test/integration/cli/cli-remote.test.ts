/**
 * The CLI driving a remote jarvis: a real listening `jarvis start`, and the CLI run as a separate
 * process from another directory (no jarvis.yml, no store there) with --server or JARVIS_SERVER
 * and JARVIS_TOKEN. Runs are followed to their end over the event stream; refusals come back with
 * the local exit codes; a wrong token, an unreachable server and a server gone mid-follow say so.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliPath, designFor } from "../../helpers/jarvis-env.js";
import { eventually, freePort } from "../../helpers/net.js";
import { startApiJarvis } from "../../helpers/api-jarvis.js";
import type { ApiJarvis } from "../../helpers/api-jarvis.js";

let jarvis: ApiJarvis;
/** Where the CLI runs: nothing of jarvis's there. */
const elsewhere = mkdtempSync(join(tmpdir(), "jarvis-remote-cli-"));

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the built CLI with `env` on top of a clean environment (no JARVIS_* from the test runner). */
function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("JARVIS_")));
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cliPath, ...args],
      { cwd: elsewhere, env: { ...base, JARVIS_CONFIG: join(elsewhere, "none.yml"), ...env } },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The CLI with --server and the token in JARVIS_TOKEN. */
const remote = (args: string[]): Promise<Result> =>
  cli(["--server", jarvis.url, ...args], { JARVIS_TOKEN: jarvis.token });
/** The CLI with JARVIS_SERVER and JARVIS_TOKEN. */
const remoteByEnv = (args: string[]): Promise<Result> =>
  cli(args, { JARVIS_SERVER: jarvis.url, JARVIS_TOKEN: jarvis.token });

beforeAll(async () => {
  jarvis = await startApiJarvis({
    pipelines: {
      quick: "steps:\n  - ok:first\n  - sleepy:0\n",
      held: "steps:\n  - ok:first\n  - gate:open-held\n",
      latched: "steps:\n  - ok:first\n  - latch:fixed-frey\n",
    },
  });
  mkdirSync(join(jarvis.env.dir, "designs"));
  for (const host of ["loki", "thor", "frey", "odin", "tyr"])
    writeFileSync(join(jarvis.env.dir, "designs", `${host}.yml`), designFor(host));
}, 120_000);

afterAll(async () => {
  await jarvis?.stop();
});

describe("jarvis --server", () => {
  it("runs a pipeline on the server and follows it to the end; status, log, clipboard and diff come from there", async () => {
    const run = await remote(["run", "quick", "loki.yml"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^loki: run \S+ of quick started$/m);
    expect(run.stdout).toContain("loki: 1/2 ok:first");
    expect(run.stdout).toContain("    ok: adding fixture key");
    expect(run.stdout).toMatch(/^loki: quick succeeded \(run \S+, 2 steps/m);
    expect(run.stdout + run.stderr).not.toContain(jarvis.token);

    const status = await remoteByEnv(["status", "loki", "--json"]);
    expect(status.code, status.stderr).toBe(0);
    const shown: unknown = JSON.parse(status.stdout);
    expect(shown).toMatchObject({
      host: "loki",
      state: "succeeded",
      requested_by: "api:local-operator",
      steps: [
        { index: 1, name: "ok:first", state: "ok" },
        { index: 2, name: "sleepy:0", state: "ok" },
      ],
    });
    const text = await remoteByEnv(["status", "loki"]);
    expect(text.stdout).toMatch(/^ {2}✓ {2}1 ok:first/m);
    const all = await remoteByEnv(["status"]);
    expect(all.stdout).toMatch(/^loki: quick succeeded/m);
    const log = await remote(["log", "loki"]);
    expect(log.code, log.stderr).toBe(0);
    expect(log.stdout).toMatch(/\[1\] ok: adding fixture key/);
    const clipboard = await remote(["clipboard", "loki", "--step", "1"]);
    expect(clipboard.stdout).toContain("fixture_ok:");
    const diff = await remote(["diff", "loki", "1"]);
    expect(diff.stdout).toContain("fixture_ok");
    const history = await remote(["history", "loki", "--json"]);
    expect(JSON.parse(history.stdout)).toHaveLength(1);
  }, 240_000);

  it("fails like a local run (exit 1), retries it once fixed and follows the retry alone; refusals keep their exit codes", async () => {
    const failed = await remote(["run", "latched", "frey.yml"]);
    expect(failed.code, failed.stderr).toBe(1);
    expect(failed.stdout).toMatch(/^frey: failed at 2\/2 latch:fixed-frey/m);
    const busy = await remote(["retry", "nobody"]);
    expect(busy.code).toBe(4);
    expect(busy.stderr).toContain("no run for 'nobody'");
    writeFileSync(join(jarvis.env.dir, "fixed-frey"), "");
    const retried = await remote(["retry", "frey"]);
    expect(retried.code, retried.stderr).toBe(0);
    expect(retried.stdout).toMatch(/^frey: latched succeeded/m);
    // Followed from the retry on: the first attempt's failure is not printed again.
    expect(retried.stdout).not.toContain("failed");
    const design = await remote(["run", "quick", "no-such-design.yml"]);
    expect(design.code, design.stderr).toBe(4);
  }, 240_000);

  it("cancels a run, and replays a run onto another host", async () => {
    const detached = await remote(["run", "held", "odin.yml", "--detach"]);
    expect(detached.code, detached.stderr).toBe(0);
    const id = detached.stdout.trim();
    const conflict = await remote(["run", "quick", "odin.yml"]);
    expect(conflict.code).toBe(5);
    expect(conflict.stderr).toContain(id);
    const cancel = await remoteByEnv(["cancel", id]);
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cancel.stdout).toMatch(new RegExp(`^odin: run ${id} (cancelled|is being cancelled)$`, "m"));
    await eventually(async () => {
      const s = await remote(["status", id, "--json"]);
      return (JSON.parse(s.stdout) as { state: string }).state === "cancelled" ? true : undefined;
    }, 60_000);

    // thor has no run yet, so its design is named as a source (on <host> would mean cn=thor).
    const replay = await remote(["replay", "loki", "--source", "thor.yml"]);
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stdout).toMatch(/^thor: run \S+ of quick started \(replay\)$/m);
    expect(replay.stdout).toMatch(/^thor: quick succeeded/m);
  }, 240_000);

  it("makes, lists and deletes schedules on the server", async () => {
    const made = await remote(["schedule", "quick", "tyr.yml", "at", "2030-12-24T02:00Z", "--json"]);
    expect(made.code, made.stderr).toBe(0);
    const schedule = JSON.parse(made.stdout) as { id: string; at: string };
    expect(schedule.at).toBe("2030-12-24T02:00:00.000Z");
    const listed = await remoteByEnv(["schedules"]);
    expect(listed.stdout).toContain(`${schedule.id}: quick tyr.yml at 2030-12-24T02:00:00.000Z`);
    const deleted = await remote(["unschedule", schedule.id]);
    expect(deleted.code, deleted.stderr).toBe(0);
    const again = await remote(["unschedule", schedule.id]);
    expect(again.code).toBe(4);
  }, 240_000);

  it("says so for a wrong token (exit 3, the token not shown), a missing one, an unreachable server, and --server where it does not apply", async () => {
    const wrong = "wrong-token-0123456789abcdef";
    const refused = await cli(["--server", jarvis.url, "status", "loki"], { JARVIS_TOKEN: wrong });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain("this API token is not valid");
    expect(refused.stderr + refused.stdout).not.toContain(wrong);
    const missing = await cli(["status", "loki"], { JARVIS_SERVER: jarvis.url });
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain("JARVIS_TOKEN");

    const nobody = `http://127.0.0.1:${await freePort()}`;
    const unreachable = await cli(["--server", nobody, "status"], { JARVIS_TOKEN: jarvis.token });
    expect(unreachable.code).toBe(6);
    expect(unreachable.stderr).toContain(`cannot reach jarvis at ${nobody}`);
    expect(unreachable.stderr).toContain("ECONNREFUSED");
    expect(unreachable.stderr).not.toContain(jarvis.token);

    const local = await cli(["--server", jarvis.url, "validate", "x.yml"], { JARVIS_TOKEN: jarvis.token });
    expect(local.code).toBe(2);
    expect(local.stderr).toContain("does not take --server");
  }, 240_000);

  it("says so when the server goes away while a run is followed", async () => {
    const following = remote(["run", "held", "tyr.yml"]);
    await eventually(async () => {
      const s = await remote(["status", "tyr", "--json"]);
      return s.code === 0 &&
        (JSON.parse(s.stdout) as { step: { name: string } }).step.name === "gate:open-held"
        ? true
        : undefined;
    }, 120_000);
    await jarvis.stop();
    const gone = await following;
    expect(gone.code).toBe(6);
    expect(gone.stdout).toMatch(/^tyr: run \S+ of held started$/m);
    expect(gone.stderr).toMatch(/lost http:\/\/127\.0\.0\.1:\d+ while following run \S+/);
    expect(gone.stderr).toContain("the run goes on there");
  }, 240_000);
});
