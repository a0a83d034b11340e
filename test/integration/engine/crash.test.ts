import { describe, expect, it } from "vitest";
import Database from "better-sqlite3";
import { readFileSync, existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { makeJarvisEnv, designFor } from "../../helpers/jarvis-env.js";
import { eventually } from "../../helpers/net.js";
import { alive } from "../../helpers/daemon.js";
import type { ChildProcess } from "node:child_process";
import type { JarvisEnv } from "../../helpers/jarvis-env.js";

function lines(path: string): string[] {
  return existsSync(path) ? readFileSync(path, "utf8").trim().split("\n").filter(Boolean) : [];
}

async function statusJson(
  env: JarvisEnv,
  host: string,
): Promise<{ state: string; run: string; step: { index: number; total: number; name: string } } | undefined> {
  const { code, stdout } = await env.cli(["status", host, "--json"]);
  return code === 0 ? JSON.parse(stdout) : undefined;
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once("exit", (code) => resolve(code));
  });
}

// Leases long enough that a starved event loop on a busy 2-core machine still renews them in time
// (renewal runs every second); tests wait for conditions, each bounded by DEADLINE.
const LEASE_MS = 5000;
const DEADLINE = 180_000;
const TEST_TIMEOUT = 600_000;

/** The lease expiry of a host's latest run, read from the store the way an operator could. */
function leaseExpiry(env: JarvisEnv, host: string): number | undefined {
  const db = new Database(env.config().store.path, { readonly: true, fileMustExist: true });
  try {
    const row = db
      .prepare("SELECT lease_expires_at AS at FROM runs WHERE host = ? ORDER BY created_at DESC LIMIT 1")
      .get(host) as { at: number | null } | undefined;
    return row?.at ?? undefined;
  } finally {
    db.close();
  }
}

// The middle step holds each run until the test creates ./open, so the kills land mid-step however
// slow the machine is.
const PIPELINE = "steps:\n  - count:first\n  - gate:open\n  - count:last\n";

describe("crash safety (the jarvis process is really killed)", () => {
  it(
    "resumes every run after kill -9, re-running only the interrupted step on its recorded input",
    async () => {
      const env = makeJarvisEnv({ pipelines: { p: PIPELINE }, leaseSeconds: LEASE_MS / 1000 });
      const hosts = ["loki", "thor", "odin"];
      for (const h of hosts) env.write(`${h}.yml`, designFor(h));
      // One foreground run killed mid-step, and two detached runs executed by a service that is killed.
      const foreground = env.spawnCli(["run", "p", "loki.yml"]);
      for (const h of ["thor", "odin"])
        expect((await env.cli(["run", "p", `${h}.yml`, "--detach"])).code).toBe(0);
      const service = env.spawnCli(["start"]);
      for (const h of hosts) {
        await eventually(
          async () => {
            const s = await statusJson(env, h);
            return s?.state === "running" && s.step.index === 2 ? s : undefined;
          },
          DEADLINE,
          `${h} to reach step 2`,
        );
      }
      foreground.kill("SIGKILL");
      service.kill("SIGKILL");
      await Promise.all([exited(foreground), exited(service)]);
      for (const h of hosts) expect((await statusJson(env, h))?.state).toBe("running");

      // A new service takes every run over once its lease has lapsed and finishes it.
      env.write("open", "");
      const next = env.spawnCli(["start"]);
      try {
        for (const h of hosts) {
          await eventually(
            async () => ((await statusJson(env, h))?.state === "succeeded" ? true : undefined),
            DEADLINE,
            `${h} to succeed`,
          );
        }
      } finally {
        next.kill("SIGTERM");
        await exited(next);
      }
      const runIds = await Promise.all(hosts.map(async (h) => (await statusJson(env, h))!.run));
      expect(lines(join(env.dir, "count-first.log")).sort()).toEqual([...runIds].sort());
      expect(lines(join(env.dir, "count-last.log")).sort()).toEqual([...runIds].sort());
      for (const h of hosts) {
        const log = (await env.cli(["log", h])).stdout;
        expect(log.match(/waiting for open/g)?.length).toBe(2);
      }
    },
    TEST_TIMEOUT,
  );

  it(
    "never takes over a live foreground run, and `resume` picks up a dead one",
    async () => {
      const env = makeJarvisEnv({ pipelines: { p: PIPELINE }, leaseSeconds: LEASE_MS / 1000 });
      env.write("loki.yml", designFor("loki"));
      const service = env.spawnCli(["start"]);
      try {
        const foreground = env.spawnCli(["run", "p", "loki.yml"]);
        await eventually(
          async () => ((await statusJson(env, "loki"))?.step.index === 2 ? true : undefined),
          DEADLINE,
          "loki at step 2",
        );
        // Held until the lease has been renewed past two whole lease lengths: only renewal keeps the
        // service from taking it over. A condition, not a clock: on a loaded machine it just takes longer.
        const first = leaseExpiry(env, "loki")!;
        await eventually(
          () => ((leaseExpiry(env, "loki") ?? 0) > first + 2 * LEASE_MS ? true : undefined),
          DEADLINE,
          "loki's lease renewed past two lease lengths",
        );
        env.write("open", "");
        expect(await exited(foreground)).toBe(0);
        const log = (await env.cli(["log", "loki"])).stdout;
        expect(log.match(/waiting for open/g)?.length).toBe(1);
      } finally {
        service.kill("SIGTERM");
        await exited(service);
      }

      rmSync(join(env.dir, "open"));
      env.write("thor.yml", designFor("thor"));
      const doomed = env.spawnCli(["run", "p", "thor.yml"]);
      await eventually(
        async () => ((await statusJson(env, "thor"))?.step.index === 2 ? true : undefined),
        DEADLINE,
        "thor at step 2",
      );
      const held = await env.cli(["resume", "thor"]);
      expect(held.code).toBe(5);
      expect(held.stderr).toContain("is being executed by");
      doomed.kill("SIGKILL");
      await exited(doomed);
      env.write("open", "");
      await eventually(
        async () => {
          const r = await env.cli(["resume", "thor"]);
          return r.code === 5 ? undefined : r;
        },
        DEADLINE,
        "resume to take over",
      ).then((r) => {
        expect(r.code).toBe(0);
        expect(r.stdout).toContain("succeeded");
      });
    },
    TEST_TIMEOUT,
  );
});

describe("steps left behind by a killed jarvis", () => {
  it(
    "stops the old step's process group before running the step again",
    async () => {
      const env = makeJarvisEnv({
        pipelines: { p: "steps:\n  - lingering:x\n" },
        leaseSeconds: LEASE_MS / 1000,
      });
      env.write("loki.yml", designFor("loki"));
      const doomed = env.spawnCli(["run", "p", "loki.yml"]);
      const pid = await eventually(
        async () => {
          const m = /first run, pid (\d+)/.exec((await env.cli(["log", "loki"])).stdout);
          return m ? Number(m[1]) : undefined;
        },
        DEADLINE,
        "the step to start",
      );
      doomed.kill("SIGKILL");
      await exited(doomed);
      expect(alive(pid)).toBe(true); // its own process group: killing jarvis does not stop it

      const resumed = await eventually(
        async () => {
          const r = await env.cli(["resume", "loki"]);
          return r.code === 5 ? undefined : r;
        },
        DEADLINE,
        "resume to take over",
      );
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(alive(pid)).toBe(false);
      const log = (await env.cli(["log", "loki"])).stdout;
      expect(log).toContain(`stopped the step left running by the process that died (pid ${pid})`);
      expect(log).toMatch(/second run, pid \d+/);
    },
    TEST_TIMEOUT,
  );
});
