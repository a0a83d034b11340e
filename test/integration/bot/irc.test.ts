/**
 * The chat front on a real ngircd, with the real service executing runs: an operator deploys
 * (runs the demo pipeline), sees the stage lines and the result, asks status; an unlisted user is
 * refused and audited; a nick change gains nothing; a server restart mid-run ends with the bot
 * back in its channel, the lines queued during the outage delivered, and the final result.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { openJarvis } from "../../../src/service.js";
import type { Jarvis } from "../../../src/service.js";
import { startBot } from "../../../src/bot/bot.js";
import type { Bot } from "../../../src/bot/bot.js";
import type { ConnectionState } from "../../../src/bot/connection-state.js";
import { makeJarvisEnv, repoRoot } from "../../helpers/jarvis-env.js";
import { eventually } from "../../helpers/net.js";
import { ircOperatorConfig, startNgircd } from "../servers/ngircd.js";
import type { Ngircd } from "../servers/ngircd.js";
import { connectOperator } from "./irc-operator.js";
import type { IrcOperator } from "./irc-operator.js";

const loki = join(repoRoot, "examples/loki.yml");
let server: Ngircd;
let jarvis: Jarvis;
let bot: Bot;
let alice: IrcOperator;
const states: ConnectionState[] = [];
const log: string[] = [];

beforeAll(async () => {
  server = await startNgircd();
  const env = makeJarvisEnv({
    pipelines: {
      // Long enough that the IRC server can be restarted while it runs.
      outage:
        "steps:\n  - demo:greet\n  - uses: demo:slow\n    with: {seconds: 2}\n  - demo:greet\n  - uses: demo:slow\n    with: {seconds: 8}\n",
    },
    extraConfig: `
${ircOperatorConfig(server.port, { burst: 10, intervalMs: 100 })}
`,
  });
  jarvis = await openJarvis(env.config(), { execute: true, pollMs: 200 });
  bot = await startBot(jarvis, { log: (line) => log.push(line) });
  bot.adapters.get("irc")!.states.on((s) => states.push(s));
  expect(bot.adapters.get("irc")!.state.kind).toBe("connected");
  alice = await connectOperator(server.port, "alice", ["#ops"]);
});

afterAll(async () => {
  await alice?.close();
  await bot?.close();
  await jarvis?.close();
  await server?.close();
});

describe("jarvis on IRC (real ngircd)", () => {
  it("runs the demo pipeline for a listed operator, with one line per stage and the result", async () => {
    const from = alice.seen.length;
    alice.say("#ops", `jarvis: run demo ${loki}`);
    await alice.waitFor(/^jarvis -> #ops: alice: loki: demo queued as run \S+ \(5 steps\)/, from);
    await alice.waitFor(/^jarvis -> #ops: loki: 1\/5 hello:greet$/, from);
    await alice.waitFor(/^jarvis -> #ops: loki: 2\/5 demo:greet$/, from);
    await alice.waitFor(/^jarvis -> #ops: loki: 4\/5 flaky step, retried/, from, 60_000);
    await alice.waitFor(/^jarvis -> #ops: loki: demo succeeded in \d+s/, from, 60_000);

    const before = alice.seen.length;
    alice.say("#ops", "jarvis: status loki");
    await alice.waitFor(/^jarvis -> #ops: alice: loki: demo succeeded \(run /, before);

    const audit = await jarvis.store.listAudit(50);
    const started = audit.find((a) => a.command.startsWith("run demo"));
    expect(started).toMatchObject({
      identity: "irc:alice!~alice@127.0.0.1",
      network: "irc",
      room: "#ops",
      decision: "allowed",
    });
    expect(started?.runId).toMatch(/\S/);
  });

  it("refuses an unlisted user, says which role is needed, and audits the refusal", async () => {
    const mallory = await connectOperator(server.port, "mallory", ["#ops"]);
    try {
      const from = mallory.seen.length;
      mallory.say("#ops", "jarvis: destroy loki");
      await mallory.waitFor(
        /^jarvis -> #ops: mallory: denied: destroy on loki is not allowed: it needs role operator; irc:mallory!~mallory@127\.0\.0\.1 has no role/,
        from,
      );
      // Read-only commands are open to members of the configured room.
      mallory.say("#ops", "jarvis: whoami");
      await mallory.waitFor(
        /^jarvis -> #ops: mallory: you are irc:mallory!~mallory@127\.0\.0\.1; roles: none/,
        from,
      );

      // Taking the operator's nick changes nothing: the identity is the whole mask.
      await alice.close();
      await mallory.changeNick("alice");
      const after = mallory.seen.length;
      mallory.say("#ops", "jarvis: destroy loki");
      await mallory.waitFor(
        /^jarvis -> #ops: alice: denied: .*irc:alice!~mallory@127\.0\.0\.1 has no role/,
        after,
      );
      const audit = await jarvis.store.listAudit(50);
      expect(
        audit.filter((a) => a.decision === "denied" && a.command === "destroy loki").map((a) => a.identity),
      ).toEqual(expect.arrayContaining(["irc:mallory!~mallory@127.0.0.1", "irc:alice!~mallory@127.0.0.1"]));
      expect((await jarvis.control.history("loki", 5)).some((r) => r.pipeline === "destroy")).toBe(false);
    } finally {
      await mallory.close();
    }
    alice = await connectOperator(server.port, "alice", ["#ops"]);
  });

  it("answers unknown commands with one line of help and refuses control characters", async () => {
    const from = alice.seen.length;
    alice.say("#ops", "jarvis: frobnicate loki");
    await alice.waitFor(/^jarvis -> #ops: alice: unknown command 'frobnicate'; commands: deploy, /, from);
    alice.say("jarvis", "status lo\u0007ki");
    await alice.waitFor(/^jarvis -> alice: command contains control character U\+0007/, from);
  });

  it("survives a server restart mid-run: rejoins, delivers what was queued, and the result arrives", async () => {
    const from = alice.seen.length;
    alice.say("#ops", `jarvis: run outage ${loki}`);
    await alice.waitFor(/^jarvis -> #ops: loki: 2\/4 demo:slow$/, from);
    const statesBefore = states.length;
    await server.stop();
    // Wait until the third step has started (its line can only be queued), and for a reconnect
    // attempt that is at least 3 s away, so the operator is back in the channel before the bot.
    await eventually(
      async () => ((await jarvis.control.status("loki"))[0]?.run.stepIndex ?? 0) >= 2 || undefined,
      30_000,
      "step 3 started",
    );
    await eventually(
      () => states.slice(statesBefore).find((s) => s.kind === "reconnecting" && s.waitMs >= 3_000),
      60_000,
      "a long reconnect wait",
    );
    await server.start();
    const back = await connectOperator(server.port, "alice", ["#ops"]);
    try {
      await back.waitFor(/^jarvis -> #ops: loki: 3\/4 demo:greet$/, 0, 60_000);
      await back.waitFor(/^jarvis -> #ops: loki: outage succeeded/, 0, 60_000);
      expect(states.slice(statesBefore).map((s) => s.kind)).toContain("connected");
      const lines = back.seen.filter((l) => l.startsWith("jarvis -> #ops: loki:"));
      expect(lines.indexOf("jarvis -> #ops: loki: 3/4 demo:greet")).toBeLessThan(
        lines.indexOf("jarvis -> #ops: loki: 4/4 demo:slow"),
      );
    } finally {
      await back.close();
    }
  }, 120_000);
});
