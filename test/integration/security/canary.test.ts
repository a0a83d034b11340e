/**
 * Secrets never leak (issue 9): canary values, all containing C4N, are planted everywhere a
 * secret can come from (design keys of every kind, the design URL's userinfo and query,
 * multi-line keys, jarvis.yml's module env and with, a secret a step adds, a step that prints
 * its input and environment, a failing step that quotes a secret), then every output a person or
 * a program can see is collected: the built CLI's text and JSON, its errors, the run log, the
 * audit trail, and chat on a real ngircd. Not one canary may appear.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer } from "node:http";
import type { Server } from "node:http";
import { openJarvis } from "../../../src/service.js";
import type { Jarvis } from "../../../src/service.js";
import { startBot } from "../../../src/bot/bot.js";
import type { Bot } from "../../../src/bot/bot.js";
import { makeJarvisEnv } from "../../helpers/jarvis-env.js";
import type { JarvisEnv } from "../../helpers/jarvis-env.js";
import { ircOperatorConfig, startNgircd } from "../servers/ngircd.js";
import type { Ngircd } from "../servers/ngircd.js";
import { connectOperator } from "../bot/irc-operator.js";
import type { IrcOperator } from "../bot/irc-operator.js";

const CANARY = /C4N/;
const HOST = "canaryhost";

const DESIGN = `instance:
  hostname: ${HOST}
  provider: local
  root_password: "C4N-rootpw with spaces"
  db_pass: C4N-dbpass
  adminPassword: C4N-camel
  ldap.bind_pw: C4N-bindpw
  secrets: [C4N-list-1, C4N-list-2]
  credentials: {user: svc, key: C4N-credkey}
  conn: "Server=db;Password=C4N-conn"
  sentry_dsn: "https://C4N-dsnkey@sentry.test/1"
  repo: "https://deploy:C4N-repopw@git.test/x.git?access_token=C4N-repotoken"
  ssh:
    private_key: |
      -----BEGIN OPENSSH PRIVATE KEY-----
      b3BlbnNzaC1rZXktdjEAAAAAC4NpemLine1AAAAAAAAAAAA
      QyNTUxOQAAACC4NpemLine2zZWNyZXRzZWNyZXRzZWNyZX
      -----END OPENSSH PRIVATE KEY-----
`;

const PIPELINE = `description: canary
steps:
  - canary:rotate
  - canary:leak
  - uses: canary:leak
    with: {db_password: C4N-pipeline-with}
  - canary:fail
`;

let server: Server;
let base: string;
let ngircd: Ngircd;
let env: JarvisEnv;
let jarvis: Jarvis;
let bot: Bot;
let alice: IrcOperator;
const botLog: string[] = [];

/** The design URL, with credentials in its userinfo and its query. */
const sourceUrl = (path = "/designs/canary.yml"): string =>
  `${base.replace("http://", "http://ops:C4N-urlpass@")}${path}?token=C4N-qtoken&sig=C4N-qsig&v=1`;

beforeAll(async () => {
  server = createServer((req, res) => {
    if ((req.url ?? "").startsWith("/designs/canary.yml")) res.end(DESIGN);
    else {
      res.statusCode = 404;
      res.end("not found");
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address !== "object") throw new Error("no port");
  base = `http://127.0.0.1:${address.port}`;
  ngircd = await startNgircd();
  env = makeJarvisEnv({
    pipelines: { canary: PIPELINE },
    extraConfig: `
modules:
  canary:
    env: {CANARY_ENV_TOKEN: C4N-envtoken}
    with: {api_token: C4N-withtoken, note: plain}
${ircOperatorConfig(ngircd.port, { burst: 50, intervalMs: 50 })}
`,
  });
  env.write("canary.yml", DESIGN);
  jarvis = await openJarvis(env.config(), { execute: true, pollMs: 200 });
  bot = await startBot(jarvis, { log: (line) => botLog.push(line) });
  alice = await connectOperator(ngircd.port, "alice", ["#ops"]);
}, 120_000);

afterAll(async () => {
  await alice?.close();
  await bot?.close();
  await jarvis?.close();
  await ngircd?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

/** Everything seen, labelled, for a readable failure. */
const outputs: { what: string; text: string }[] = [];

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const result = await env.cli(args);
  outputs.push({ what: `jarvis ${args.join(" ")}`, text: `${result.stdout}\n${result.stderr}` });
  return result;
}

function leaks(): string[] {
  return outputs
    .filter((o) => CANARY.test(o.text))
    .map(
      (o) =>
        `${o.what}: ${o.text
          .split("\n")
          .filter((l) => CANARY.test(l))
          .join(" | ")}`,
    );
}

describe("canaries planted in designs, jarvis.yml and steps", () => {
  it("never appear in CLI output, JSON, the log, errors or the audit trail", async () => {
    const run = await cli(["run", "canary", sourceUrl()]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/failed at 4\/4 canary:fail: .*the database refused password \*\*\*/);
    // The secrets really went through: the run log holds the masked lines of the careless steps.
    const log = await cli(["log", HOST]);
    expect(log.stdout).toMatch(/CANARY_ENV_TOKEN=\*\*\*/);
    expect(log.stdout).toMatch(/root_password: \*\*\*/);

    for (const args of [
      ["status"],
      ["status", HOST],
      ["status", HOST, "--json"],
      ["history", HOST],
      ["history", HOST, "--json"],
      ["log", HOST, "--json"],
      ["clipboard", HOST],
      ["clipboard", HOST, "--json"],
      ...[0, 1, 2, 3].map((n) => ["clipboard", HOST, "--step", String(n), "--json"]),
      ...[1, 2, 3].map((n) => ["diff", HOST, String(n)]),
      ["step", "canary:leak", "--clipboard", env.write("design.yml", DESIGN)],
      // Error paths: a design URL that fails, with credentials in it.
      ["run", "canary", sourceUrl("/missing.yml")],
      ["validate", sourceUrl("/missing.yml")],
    ])
      await cli(args);
    await cli(["audit"]);
    await cli(["audit", "--json"]);
    expect(leaks()).toEqual([]);
  }, 600_000);

  it("never appear in chat on a real IRC server, in replies, progress or errors", async () => {
    const from = alice.seen.length;
    alice.say("#ops", `jarvis: run canary ${sourceUrl()}`);
    await alice.waitFor(/^jarvis -> #ops: canaryhost: canary FAILED at 4\/4 canary:fail: /, from, 120_000);
    const commands = [
      `status ${HOST}`,
      "status",
      `log ${HOST}`,
      `clipboard ${HOST}`,
      `clipboard ${HOST} 1`,
      `clipboard ${HOST} 3`,
      `diff ${HOST} 1`,
      `diff ${HOST} 2`,
      `history ${HOST}`,
      `run canary ${sourceUrl("/missing.yml")}`,
      "whoami",
    ];
    for (const command of commands) {
      const before = alice.seen.length;
      alice.say("#ops", `jarvis: ${command}`);
      await alice.waitFor(/^jarvis -> #ops: alice: /, before, 60_000);
    }
    // The last reply (whoami) came after every other one: all of them are in.
    outputs.push({ what: "IRC channel", text: alice.seen.join("\n") });
    outputs.push({ what: "bot log", text: botLog.join("\n") });
    const audit = await jarvis.store.listAudit(200);
    outputs.push({ what: "audit (store)", text: JSON.stringify(audit) });
    expect(alice.seen.join("\n")).toMatch(/canaryhost: canary FAILED at 4\/4 canary:fail: .*password \*\*\*/);
    expect(leaks()).toEqual([]);
  }, 300_000);
});
