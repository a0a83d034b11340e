/**
 * Plan in chat, end to end: `jarvis start` (a real service process) on a real ngircd, designs
 * from a real slapd (`cn=<host>`), the local provider making real hosts (an sshd each). A plan
 * shows its summary line in the room and changes nothing. `deploy cn=loki after plan` shows the
 * plan, then waits for approval with no approval rule written anywhere: the requester and a
 * person whose role cannot approve are refused, the service restarts meanwhile, and another
 * identity's approval applies exactly the plan. A denied plan-then-apply changes nothing, and
 * nor does one whose pipeline's own approval rule expires.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { makeJarvisEnv } from "../../helpers/jarvis-env.js";
import type { JarvisEnv } from "../../helpers/jarvis-env.js";
import { stopChild } from "../../helpers/daemon.js";
import { eventually } from "../../helpers/net.js";
import { startNgircd } from "../servers/ngircd.js";
import type { Ngircd } from "../servers/ngircd.js";
import { startSlapd } from "../servers/slapd.js";
import type { SlapdServer } from "../servers/slapd.js";
import { runStep } from "../workers/run-step.js";
import { connectOperator } from "./irc-operator.js";
import type { IrcOperator } from "./irc-operator.js";

const LONG = 120_000;
const ALICE = "irc:alice!~alice@127.0.0.1";
let ngircd: Ngircd;
let slapd: SlapdServer;
let env: JarvisEnv;
let service: ChildProcess | undefined;
let alice: IrcOperator;
let bob: IrcOperator;
let eve: IrcOperator;

const hostEntry = (host: string): string => `dn: cn=${host},ou=Hosts,dc=example,dc=test
objectClass: device
objectClass: ipHost
objectClass: domainRelatedObject
cn: ${host}
ipHostNumber: 127.0.0.1
associatedDomain: ${host}.example.test
`;

function startService(): ChildProcess {
  const child = env.spawnCli(["start"], { env: { LDAP_BIND_PASSWORD: slapd.password } });
  child.stderr?.resume();
  child.stdout?.resume();
  return child;
}

function stopService(): Promise<void> {
  return stopChild(service);
}

async function serviceReady(): Promise<void> {
  await eventually(
    async () => {
      const from = alice.seen.length;
      alice.say("#ops", "jarvis: whoami");
      await alice.waitFor(/^jarvis -> #ops: alice: you are/, from, 3_000);
      return true;
    },
    LONG,
    "the service to answer on IRC",
  );
}

const nodeOf = (host: string): boolean => existsSync(join(env.dir, ".state/local", host));

beforeAll(async () => {
  [ngircd, slapd] = await Promise.all([
    startNgircd(),
    startSlapd(`${hostEntry("loki")}\n${hostEntry("odin")}`),
  ]);
  env = makeJarvisEnv({
    // The local provider's deploy and delete: each plans exactly what it then does.
    pipelines: {
      deploy: "steps:\n  - local:deploy\n",
      destroy: "steps:\n  - local:delete\n",
      // A rule of its own: the apply waits for it, and expires by it.
      redeploy: "approval: {approvers: role:approvers, expires: 2s}\nsteps:\n  - local:deploy\n",
    },
    extraConfig: `
sources:
  ldap:
    url: ${slapd.url}
    base_dn: ${slapd.baseDn}
    bind_dn: ${slapd.bindDn}
    defaults:
      instance: { provider: local }
chat:
  nick: jarvis
  irc:
    host: 127.0.0.1
    port: ${ngircd.port}
    tls: false
    channels: ["#ops"]
    pace: {burst: 20, interval_ms: 50}
acl:
  roles:
    deployers: {commands: [deploy, redeploy, destroy, plan, status], hosts: ["*"]}
    approvers: {commands: [approve, deny, status], hosts: ["*"]}
  people:
    alice: {roles: [deployers, approvers], identities: ["${ALICE}"]}
    bob: {roles: [approvers], identities: ["irc:bob!~bob@127.0.0.1"]}
    eve: {roles: [deployers], identities: ["irc:eve!~eve@127.0.0.1"]}
`,
  });
  alice = await connectOperator(ngircd.port, "alice", ["#ops"]);
  bob = await connectOperator(ngircd.port, "bob", ["#ops"]);
  eve = await connectOperator(ngircd.port, "eve", ["#ops"]);
  service = startService();
  await serviceReady();
}, 4 * LONG);

afterAll(async () => {
  await stopService();
  await Promise.allSettled([alice, bob, eve].map((o) => o?.close()));
  if (env)
    for (const host of ["loki", "odin"])
      await runStep("providers/local-step", "delete", { instance: { hostname: host } }, { cwd: env.dir });
  await Promise.allSettled([ngircd?.close(), slapd?.stop()]);
});

describe("plan and plan-then-apply in an IRC room", () => {
  it("shows a plan's summary line and changes nothing", async () => {
    const from = alice.seen.length;
    alice.say("#ops", "jarvis: plan deploy cn=loki");
    await alice.waitFor(
      /^jarvis -> #ops: loki: plan: 1 create, 0 update, 0 delete; details: jarvis clipboard \S+$/,
      from,
      LONG,
    );
    expect(nodeOf("loki")).toBe(false);
  });

  it("plans, waits for another person's approval across a restart, then applies exactly the plan", async () => {
    const from = alice.seen.length;
    alice.say("#ops", "jarvis: deploy cn=loki after plan");
    const summary = await alice.waitFor(
      /^jarvis -> #ops: loki: plan: 1 create, 0 update, 0 delete; details: jarvis clipboard (\S+)$/,
      from,
      LONG,
    );
    const planRun = /clipboard (\S+)$/.exec(summary)![1]!;
    const notice = await alice.waitFor(
      new RegExp(
        `^jarvis -> #ops: loki: deploy by irc:alice!~alice@127\\.0\\.0\\.1 needs 1 approval from anyone allowed to approve to apply plan ${planRun}: jarvis approve (\\S+) \\| jarvis deny \\1$`,
      ),
      from,
      LONG,
    );
    // The summary comes first: people read the plan before they are asked.
    const said = alice.seen.slice(from);
    expect(said.indexOf(summary)).toBeLessThan(said.indexOf(notice));
    const applyRun = /jarvis approve (\S+)/.exec(notice)![1]!;
    expect(nodeOf("loki")).toBe(false);

    let at = alice.seen.length;
    alice.say("#ops", `jarvis: approve ${applyRun}`);
    await alice.waitFor(/^jarvis -> #ops: alice: denied: you asked for run \S+ yourself/, at, LONG);
    at = eve.seen.length;
    eve.say("#ops", `jarvis: approve ${applyRun}`);
    await eve.waitFor(
      /^jarvis -> #ops: eve: denied: only people whose acl role allows approve on loki/,
      at,
      LONG,
    );

    // Waiting is state in the store: a new service process carries on.
    await stopService();
    service = startService();
    await serviceReady();
    expect(nodeOf("loki")).toBe(false);

    at = alice.seen.length;
    bob.say("#ops", `jarvis: approve ${applyRun}`);
    await alice.waitFor(/^jarvis -> #ops: loki: deploy succeeded/, at, LONG);
    expect(nodeOf("loki")).toBe(true);

    // Exactly the plan: the planned create is the node the apply made, and nothing else changed.
    const plan = await env.cli(["clipboard", planRun, "--json"]);
    expect(plan.code, plan.stderr).toBe(0);
    const entries = (JSON.parse(plan.stdout) as { plan: { action: string; target: string }[] }).plan;
    expect(entries.filter((e) => e.action !== "none")).toEqual([
      expect.objectContaining({ action: "create", target: "local node loki" }),
    ]);
    const status = await env.cli(["status", applyRun, "--json"]);
    expect(JSON.parse(status.stdout)).toMatchObject({
      state: "succeeded",
      plan: false,
      plan_run: planRun,
      approval: {
        approvers: "acl:approve",
        decisions: [{ verdict: "approve", by: "irc:bob!~bob@127.0.0.1" }],
      },
    });
    expect(nodeOf("odin")).toBe(false);
  });

  it("a denied plan-then-apply changes nothing", async () => {
    const from = alice.seen.length;
    alice.say("#ops", "jarvis: destroy loki after plan");
    await alice.waitFor(/^jarvis -> #ops: loki: plan: 0 create, 0 update, 1 delete; details/, from, LONG);
    const notice = await alice.waitFor(/^jarvis -> #ops: loki: destroy by \S+ needs 1 approval/, from, LONG);
    const applyRun = /jarvis approve (\S+)/.exec(notice)![1]!;
    bob.say("#ops", `jarvis: deny ${applyRun} not today`);
    await alice.waitFor(
      /^jarvis -> #ops: loki: destroy cancelled at the start: denied by irc:bob\S*: not today/,
      from,
      LONG,
    );
    expect(nodeOf("loki")).toBe(true);
  });

  it("waits by the pipeline's own rule when it has one, and applies nothing when that expires", async () => {
    const from = alice.seen.length;
    alice.say("#ops", "jarvis: redeploy loki after plan");
    await alice.waitFor(/^jarvis -> #ops: loki: plan: 0 create, 0 update, 0 delete; details/, from, LONG);
    await alice.waitFor(
      /^jarvis -> #ops: loki: redeploy by \S+ needs 1 approval from approvers to apply plan/,
      from,
      LONG,
    );
    await alice.waitFor(
      /^jarvis -> #ops: loki: redeploy cancelled at the start: not approved in time/,
      from,
      LONG,
    );
    const history = await env.cli(["history", "loki", "--json"]);
    const runs = JSON.parse(history.stdout) as { pipeline: string; state: string; plan: boolean }[];
    expect(runs.filter((r) => r.pipeline === "redeploy").map((r) => [r.plan, r.state])).toEqual([
      [false, "cancelled"],
      [true, "succeeded"],
    ]);
    expect(nodeOf("loki")).toBe(true);
  });
});
