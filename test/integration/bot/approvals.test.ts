/**
 * Approvals and followed output across real networks: `jarvis start` (a real service process) on
 * a real ngircd and a real prosody. alice asks on IRC for a run that needs two approvals from
 * leads; her own approval and a non-approver's are refused; bob approves on IRC, the service is
 * restarted, bob's second approval from XMPP counts once, carol's from XMPP completes it and the
 * run executes. A run nobody approves expires. A room following a step that prints 10,000 lines
 * gets the allowed lines and a summary, and the run log keeps all of them; a failure shows the
 * failing step's last 3 lines.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { makeJarvisEnv, designFor } from "../../helpers/jarvis-env.js";
import type { JarvisEnv } from "../../helpers/jarvis-env.js";
import { stopChild } from "../../helpers/daemon.js";
import { eventually } from "../../helpers/net.js";
import { startNgircd } from "../servers/ngircd.js";
import type { Ngircd } from "../servers/ngircd.js";
import { startProsody } from "../servers/prosody.js";
import type { Prosody } from "../servers/prosody.js";
import { connectOperator } from "./irc-operator.js";
import type { IrcOperator } from "./irc-operator.js";
import { connectXmppOperator } from "./xmpp-operator.js";
import type { XmppOperator } from "./xmpp-operator.js";

const room = "ops@conference.localhost";
const LONG = 120_000;
let ngircd: Ngircd;
let prosody: Prosody;
let env: JarvisEnv;
let service: ChildProcess | undefined;
let alice: IrcOperator;
let bobIrc: IrcOperator;
let eve: IrcOperator;
let bobXmpp: XmppOperator;
let carol: XmppOperator;

function startService(): ChildProcess {
  const child = env.spawnCli(["start"], { env: { TEST_XMPP_PASSWORD: "bot-secret" } });
  child.stderr?.resume();
  child.stdout?.resume();
  return child;
}

function stopService(): Promise<void> {
  return stopChild(service);
}

/** The bot answers on both networks: the service is up. */
async function serviceReady(): Promise<void> {
  await eventually(
    async () => {
      const from = alice.seen.length;
      alice.say("#ops", "jarvis: whoami");
      await alice.waitFor(/^jarvis -> #ops: alice: you are/, from, 3_000);
      const at = carol.seen.length;
      await carol.groupchat(room, "jarvis: whoami");
      await carol.waitFor(/you are xmpp:carol@localhost/, at, 3_000);
      return true;
    },
    LONG,
    "the service to answer on IRC and XMPP",
  );
}

beforeAll(async () => {
  ngircd = await startNgircd();
  prosody = await startProsody();
  for (const [user, password] of [
    ["jarvis", "bot-secret"],
    ["bob", "bob-secret"],
    ["carol", "carol-secret"],
  ] as const)
    await prosody.register(user, password);
  env = makeJarvisEnv({
    pipelines: {
      gated: `approval: {approvers: role:leads, count: 2, expires: 1h, when: "instance.hostname == 'loki'", notify: ["xmpp:${room}"]}\nsteps:\n  - count:gated\n`,
      brief: "approval: {approvers: role:leads, count: 1, expires: 2s}\nsteps:\n  - count:brief\n",
      noisy: "steps:\n  - chatty:lines\n",
      broken: "steps:\n  - chatty:fail\n",
    },
    extraConfig: `
chat:
  nick: jarvis
  irc:
    host: 127.0.0.1
    port: ${ngircd.port}
    tls: false
    channels: ["#ops"]
    # One window for the whole noisy run: the room gets exactly follow_lines lines and a summary.
    pace: {burst: 20, interval_ms: 50, follow_lines: 3, follow_interval_ms: 600000}
  xmpp:
    service: ${prosody.service}
    domain: localhost
    username: jarvis
    password: \${TEST_XMPP_PASSWORD}
    rooms: ["${room}"]
    pace: {burst: 20, interval_ms: 50}
acl:
  roles:
    operator: {commands: ["*"]}
    leads: {commands: [status]}
  people:
    alice: {roles: [operator, leads], identities: ["irc:alice!~alice@127.0.0.1"]}
    bob: {roles: [leads], identities: ["irc:bob!~bob@127.0.0.1", "xmpp:bob@localhost"]}
    carol: {roles: [leads], identities: ["xmpp:carol@localhost"]}
    eve: {roles: [operator], identities: ["irc:eve!~eve@127.0.0.1"]}
`,
  });
  mkdirSync(join(env.dir, "designs"));
  for (const host of ["loki", "odin", "thor", "frigg"]) env.write(`designs/${host}.yml`, designFor(host));
  alice = await connectOperator(ngircd.port, "alice", ["#ops"]);
  bobIrc = await connectOperator(ngircd.port, "bob", ["#ops"]);
  eve = await connectOperator(ngircd.port, "eve", ["#ops"]);
  bobXmpp = await connectXmppOperator(prosody.service, "bob", "bob-secret", [room]);
  carol = await connectXmppOperator(prosody.service, "carol", "carol-secret", [room]);
  service = startService();
  await serviceReady();
}, 4 * LONG);

afterAll(async () => {
  await stopService();
  await Promise.allSettled([alice, bobIrc, eve, bobXmpp, carol].map((o) => o?.close()));
  await ngircd?.close();
  await prosody?.close();
});

describe("approvals across IRC and XMPP, with a service restart", () => {
  it("waits for two different approvers, refusing the requester and a non-approver", async () => {
    const from = alice.seen.length;
    const carolFrom = carol.seen.length;
    alice.say("#ops", "jarvis: run gated designs/loki.yml");
    const notice = await alice.waitFor(
      /^jarvis -> #ops: loki: gated by irc:alice!~alice@127\.0\.0\.1 needs 2 approvals from leads: jarvis approve (\S+) \| jarvis deny \1$/,
      from,
      LONG,
    );
    const runId = /jarvis approve (\S+)/.exec(notice)![1]!;
    // The room the rule names is told too, on the other network.
    await carol.waitFor(new RegExp(`needs 2 approvals from leads: jarvis approve ${runId}`), carolFrom, LONG);

    let at = alice.seen.length;
    alice.say("#ops", `jarvis: approve ${runId}`);
    await alice.waitFor(/^jarvis -> #ops: alice: denied: you asked for run \S+ yourself/, at, LONG);
    at = eve.seen.length;
    eve.say("#ops", `jarvis: approve ${runId}`);
    await eve.waitFor(/^jarvis -> #ops: eve: denied: only people with role leads may approve/, at, LONG);
    at = bobIrc.seen.length;
    bobIrc.say("#ops", `jarvis: approve ${runId}`);
    await bobIrc.waitFor(/^jarvis -> #ops: bob: loki: approval recorded for run \S+ \(1\/2\)/, at, LONG);

    // The state is in the store: a new service process carries on where the old one stopped.
    await stopService();
    service = startService();
    await serviceReady();

    at = bobXmpp.seen.length;
    await bobXmpp.groupchat(room, `jarvis: approve ${runId}`);
    await bobXmpp.waitFor(/you approved run \S+ already \(1\/2\)/, at, LONG);
    at = alice.seen.length;
    await carol.groupchat(room, `jarvis: approve ${runId}`);
    await carol.waitFor(/loki: run \S+ approved \(2\/2\); it is queued/, carol.seen.length - 1, LONG);
    await alice.waitFor(/^jarvis -> #ops: loki: gated succeeded/, at, LONG);

    const status = await env.cli(["status", "loki", "--json"]);
    expect(status.code).toBe(0);
    const shown = JSON.parse(status.stdout) as { approval: { decisions: { by: string }[] } };
    expect(shown.approval.decisions.map((d) => d.by)).toEqual([
      "irc:bob!~bob@127.0.0.1",
      "xmpp:carol@localhost",
    ]);
    const audit = await env.cli(["audit", "--json"]);
    const entries = JSON.parse(audit.stdout) as { identity: string; command: string; decision: string }[];
    const approvals = entries.filter((e) => e.command.startsWith("approve"));
    expect(approvals.map((e) => [e.identity, e.decision]).reverse()).toEqual([
      ["irc:alice!~alice@127.0.0.1", "denied"],
      ["irc:eve!~eve@127.0.0.1", "denied"],
      ["irc:bob!~bob@127.0.0.1", "allowed"],
      ["xmpp:bob@localhost", "allowed"],
      ["xmpp:carol@localhost", "allowed"],
    ]);
  });

  it("cancels a run nobody approves before its deadline", async () => {
    const from = alice.seen.length;
    alice.say("#ops", "jarvis: run brief designs/odin.yml");
    await alice.waitFor(/^jarvis -> #ops: odin: brief by \S+ needs 1 approval from leads/, from, LONG);
    await alice.waitFor(
      /^jarvis -> #ops: odin: brief cancelled at the start: not approved in time/,
      from,
      LONG,
    );
    const history = await env.cli(["history", "odin"]);
    expect(history.stdout).toMatch(/odin: cancelled at the start: not approved in time/);
  });
});

describe("following step output in chat", () => {
  it("shows the allowed lines and summarises the rest of 10,000, all of which stay in the log", async () => {
    const from = alice.seen.length;
    alice.say("#ops", "jarvis: follow thor");
    await alice.waitFor(
      /^jarvis -> #ops: alice: following thor: its next run's step output comes here/,
      from,
      LONG,
    );
    alice.say("#ops", "jarvis: run noisy designs/thor.yml");
    await alice.waitFor(/^jarvis -> #ops: thor: noisy succeeded/, from, LONG);
    await alice.waitFor(/^jarvis -> #ops: thor: run \S+ ended; no longer following it$/, from, LONG);
    const said = alice.seen.slice(from);
    const output = said.filter((l) => l.startsWith("jarvis -> #ops: thor| "));
    expect(output).toEqual([
      "jarvis -> #ops: thor| output line 1",
      "jarvis -> #ops: thor| output line 2",
      "jarvis -> #ops: thor| output line 3",
    ]);
    expect(said.filter((l) => /^jarvis -> #ops: \.\.\. \d+ lines$/.test(l))).toEqual([
      "jarvis -> #ops: ... 9997 lines",
    ]);
    const log = await env.cli(["log", "thor", "--json"]);
    expect(log.code).toBe(0);
    const lines = (JSON.parse(log.stdout) as { line: string }[]).filter((l) =>
      l.line.startsWith("output line"),
    );
    expect(lines).toHaveLength(10_000);
  });

  it("shows the failing step's last 3 output lines with the failure", async () => {
    const from = alice.seen.length;
    alice.say("#ops", "jarvis: run broken designs/frigg.yml");
    await alice.waitFor(/^jarvis -> #ops: frigg: broken FAILED at 1\/1 chatty:fail/, from, LONG);
    await alice.waitFor(/^jarvis -> #ops: frigg\| output line 10$/, from, LONG);
    const said = alice.seen.slice(from).filter((l) => l.startsWith("jarvis -> #ops: frigg| "));
    expect(said).toEqual([
      "jarvis -> #ops: frigg| output line 8",
      "jarvis -> #ops: frigg| output line 9",
      "jarvis -> #ops: frigg| output line 10",
    ]);
  });
});
