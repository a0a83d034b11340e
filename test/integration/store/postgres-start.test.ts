/**
 * `jarvis start` on a PostgreSQL store, end to end: the demo pipeline queued by one CLI process,
 * executed by the service in another, followed from this one (woken by LISTEN/NOTIFY across
 * processes) and inspected with the CLI, all through a real PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openJarvis } from "../../../src/service.js";
import { designFor, makeJarvisEnv } from "../../helpers/jarvis-env.js";
import { startPostgres } from "../servers/postgres.js";
import type { ChildProcess } from "node:child_process";
import type { PostgresServer } from "../servers/postgres.js";
import type { RunEvent } from "../../../src/protocol.js";

let server: PostgresServer;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server?.stop();
});

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once("exit", (code) => resolve(code));
  });
}

describe("jarvis start on PostgreSQL", () => {
  it("executes a demo run queued by another process, followed here, shown by the CLI", async () => {
    const url = await server.createDatabase();
    // The password comes from the environment, as an operator would keep it.
    const env = makeJarvisEnv({
      store: `store:\n  url: ${url.replace(server.password, "${JARVIS_PG_PASSWORD}")}`,
    });
    const secretEnv = { JARVIS_PG_PASSWORD: server.password };
    process.env.JARVIS_PG_PASSWORD = server.password;
    const follower = await openJarvis(env.config());
    let service: ChildProcess | undefined;
    let serviceLog = "";
    try {
      env.write("loki.yml", designFor("loki"));
      const detached = await env.cli(["run", "demo", "loki.yml", "--detach"], { env: secretEnv });
      expect(detached.code, detached.stderr).toBe(0);
      const runId = detached.stdout.trim();

      const seen: RunEvent[] = [];
      const stop = new AbortController();
      const following = (async () => {
        for await (const event of follower.control.follow(0, { runId, signal: stop.signal })) {
          seen.push(event);
          if (event.type === "run-finished") stop.abort();
        }
      })();
      service = env.spawnCli(["start"], { env: secretEnv });
      service.stderr?.on("data", (chunk: Buffer) => (serviceLog += chunk.toString()));
      await following;

      expect(seen.at(-1)).toMatchObject({ type: "run-finished", host: "loki", run: { state: "succeeded" } });
      const types = seen.map((e) => e.type);
      expect(types).toEqual(
        expect.arrayContaining(["run-queued", "run-started", "step-started", "step-log"]),
      );
      const seqs = seen.map((e) => e.seq);
      expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);

      const status = await env.cli(["status", "loki", "--json"], { env: secretEnv });
      expect(status.code, status.stderr).toBe(0);
      expect(JSON.parse(status.stdout)).toMatchObject({ run: runId, host: "loki", state: "succeeded" });
      const log = await env.cli(["log", "loki"], { env: secretEnv });
      expect(log.code, log.stderr).toBe(0);
      expect(log.stdout).toContain("flaky");
      expect(serviceLog).toContain("jarvis: started (store postgres://jarvis:***@127.0.0.1");
      expect(serviceLog).not.toContain(server.password);
    } finally {
      service?.kill("SIGTERM");
      if (service) await exited(service);
      await follower.close();
      delete process.env.JARVIS_PG_PASSWORD;
    }
  });
});
