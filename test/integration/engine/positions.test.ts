import { describe, expect, it } from "vitest";
import { makeJarvisEnv, designFor } from "../../helpers/jarvis-env.js";
import { openJarvis } from "../../../src/service.js";
import { statusLine as chatStatusLine } from "../../../src/bot/commands.js";

// on_failure steps run after the failed step; they must never move where the run says it stopped.
const PIPELINE = "steps:\n  - ok:a\n  - fail:b\n  - count:c\n  - count:d\non_failure:\n  - count:cleanup\n";

describe("a failed run with on_failure steps names the step that failed", () => {
  it("in the followed output, status (text and JSON), history and chat", async () => {
    const env = makeJarvisEnv({ pipelines: { p: PIPELINE } });
    env.write("loki.yml", designFor("loki"));
    const run = await env.cli(["run", "p", "loki.yml"]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("loki: 2/4 fail:b\n");
    expect(run.stdout).toContain("loki: on_failure 1/1 count:cleanup\n");
    expect(run.stdout).not.toMatch(/5\/4/);
    expect(run.stdout).toMatch(/loki: failed at 2\/4 fail:b: fail:b: the API refused the token/);

    const text = await env.cli(["status", "loki"]);
    expect(text.stdout).toMatch(/failed at 2\/4 fail:b/);
    expect(text.stdout).toContain("on_failure 1/1 count:cleanup");
    const json = JSON.parse((await env.cli(["status", "loki", "--json"])).stdout);
    expect(json.step).toEqual({ index: 2, total: 4, name: "fail:b" });
    expect(json.steps[4]).toMatchObject({
      index: 1,
      phase: "on_failure",
      name: "count:cleanup",
      state: "ok",
    });
    const [history] = JSON.parse((await env.cli(["history", "loki", "--json"])).stdout);
    expect(history.step).toEqual({ index: 2, total: 4, name: "fail:b" });

    const jarvis = await openJarvis(env.config());
    try {
      const [detail] = await jarvis.control.status("loki");
      expect(detail!.run.stepIndex).toBe(1);
      expect(chatStatusLine(detail!)).toMatch(
        /^loki: p FAILED at 2\/4 fail:b: fail:b: the API refused the token/,
      );
      const cleanupLog = (await jarvis.control.log("loki")).filter((l) => l.step.phase === "on_failure");
      expect(cleanupLog.map((l) => l.step)).toContainEqual({
        phase: "on_failure",
        index: 0,
        total: 1,
        name: "count:cleanup",
      });
    } finally {
      await jarvis.close();
    }
  });
});
