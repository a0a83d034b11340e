import { describe, expect, it } from "vitest";
import { openJarvis } from "../../../src/service.js";
import { ProgressRelay } from "../../../src/bot/progress.js";
import { makeJarvisEnv, designFor } from "../../helpers/jarvis-env.js";
import { eventually } from "../../helpers/net.js";
import type { ChildProcess } from "node:child_process";
import type { RunEvent } from "../../../src/pipeline/run-events.js";

const PIPELINE = "steps:\n  - ok:a\n  - fail:b\n  - count:c\n  - count:d\non_failure:\n  - count:cleanup\n";

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once("exit", (code) => resolve(code));
  });
}

describe("the run event feed", () => {
  it("lets this process follow runs that another process (`jarvis start`) executes", async () => {
    const env = makeJarvisEnv({ pipelines: { p: PIPELINE } });
    const follower = await openJarvis(env.config());
    const lines: string[] = [];
    const relay = new ProgressRelay(
      follower.control,
      async (network, place, line) => void lines.push(`${network} ${place.room} ${line}`),
      "jarvis",
      { afterSeq: await follower.control.latestSeq() },
    );
    let service: ChildProcess | undefined;
    try {
      // One run queued from chat (its progress goes to #ops), one from the CLI in a third process.
      const chatRun = await follower.control.start(
        "p",
        env.write("loki.yml", designFor("loki")),
        {
          identity: "irc:alice",
          origin: "irc:#ops",
        },
        { fileAccess: "any" },
      );
      env.write("thor.yml", designFor("thor"));
      const detached = await env.cli(["run", "p", "thor.yml", "--detach"]);
      expect(detached.code).toBe(0);
      const cliRunId = detached.stdout.trim();
      const seen: RunEvent[] = [];
      const stop = new AbortController();
      const following = (async () => {
        for await (const event of follower.control.follow(0, { runId: cliRunId, signal: stop.signal })) {
          seen.push(event);
          if (event.type === "run-finished") stop.abort();
        }
      })();

      service = env.spawnCli(["start"]);
      await following;
      expect(seen.map((e) => e.type)).toEqual(
        expect.arrayContaining(["run-queued", "run-started", "step-started", "step-log", "step-finished"]),
      );
      expect(seen.map((e) => e.type).at(-1)).toBe("run-finished");
      const logLines = seen.flatMap((e) => (e.type === "step-log" ? [e.line] : []));
      expect(logLines).toContain("ok: adding fixture key");
      const finished = seen.at(-1);
      expect(finished).toMatchObject({
        type: "run-finished",
        host: "thor",
        run: { state: "failed", step: { phase: "main", index: 1, total: 4, name: "fail:b" } },
      });

      const failedLine = await eventually(
        async () => lines.find((l) => l.includes("FAILED")),
        60_000,
        "the chat run's final line",
      );
      expect(lines).toEqual([
        `irc #ops loki: p started (run ${chatRun.id}, 4 steps, by irc:alice)`,
        "irc #ops loki: 1/4 ok:a",
        "irc #ops loki: 2/4 fail:b",
        "irc #ops loki: on_failure 1/1 count:cleanup",
        failedLine,
      ]);
      expect(failedLine).toMatch(
        /^irc #ops loki: p FAILED at 2\/4 fail:b: fail:b: the API refused the token/,
      );
    } finally {
      relay.close();
      await relay.done;
      service?.kill("SIGTERM");
      if (service) await exited(service);
      await follower.close();
    }
  });
});
