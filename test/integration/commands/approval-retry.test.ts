/** A run that never got its approvals cannot be retried into execution without them. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openJarvis } from "../../../src/service.js";
import type { Jarvis } from "../../../src/service.js";
import { designFor, makeJarvisEnv } from "../../helpers/jarvis-env.js";

let jarvis: Jarvis;
const who = { identity: "irc:alice", origin: "irc:#ops", person: "alice" };

beforeAll(async () => {
  const env = makeJarvisEnv({
    pipelines: { gated: "approval: {approvers: role:leads, count: 1}\nsteps:\n  - count:gated\n" },
  });
  jarvis = await openJarvis(env.config());
  const design = env.write("loki.yml", designFor("loki"));
  await jarvis.control.startAll("gated", design, who, { fileAccess: "any" });
});

afterAll(async () => {
  await jarvis?.close();
});

describe("retry of a run awaiting approval", () => {
  it("refuses to retry a denied run, which would start it unapproved", async () => {
    const voter = { identity: "irc:bob", person: "bob", roles: ["leads"] };
    const denied = await jarvis.control.decide("loki", voter, "deny", "not now");
    expect(denied).toMatchObject({ outcome: "denied", run: { state: "cancelled" } });
    await expect(jarvis.control.retry("loki", who)).rejects.toMatchObject({
      code: "E_RUN_STATE",
      message: expect.stringContaining("never got its approvals"),
    });
    expect((await jarvis.control.find("loki")).state).toBe("cancelled");
  });
});
