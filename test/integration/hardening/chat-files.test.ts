/**
 * Chat cannot read jarvis's files: `deploy /etc/shadow`, `../` paths, absolute paths elsewhere
 * and a symlink inside designs/ pointing out are refused without the file being read (a canary
 * in it never appears), on the console chat and on a real IRC server (ngircd). A design inside
 * designs/ deploys by its name; control bytes and bidi marks in replies arrive escaped.
 */
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openJarvis } from "../../../src/service.js";
import type { Jarvis } from "../../../src/service.js";
import { startBot } from "../../../src/bot/bot.js";
import type { Bot } from "../../../src/bot/bot.js";
import { designFor, makeJarvisEnv } from "../../helpers/jarvis-env.js";
import type { JarvisEnv } from "../../helpers/jarvis-env.js";
import { eventually } from "../../helpers/net.js";
import { ircOperatorConfig, startNgircd } from "../servers/ngircd.js";
import type { Ngircd } from "../servers/ngircd.js";
import { connectOperator } from "../bot/irc-operator.js";
import type { IrcOperator } from "../bot/irc-operator.js";

const CANARY = "CANARY-not-for-chat-7f3a";
const PIPELINE = { one: "steps:\n  - demo:greet\n" };

/** An env whose designs/ holds one design and a symlink out, next to a secret file. */
function envWithDesigns(extraConfig = ""): JarvisEnv {
  const env = makeJarvisEnv({ pipelines: PIPELINE, extraConfig });
  mkdirSync(join(env.dir, "designs"));
  writeFileSync(join(env.dir, "designs", "loki.yml"), designFor("loki"));
  env.write("secret.yml", `${designFor("leak")}password: ${CANARY}\n`);
  symlinkSync(join(env.dir, "secret.yml"), join(env.dir, "designs", "escape.yml"));
  symlinkSync(join(env.dir, "designs"), join(env.dir, "designs", "self"));
  return env;
}

/** What a chat user tries, and what must be refused as outside the designs dirs. */
const forbidden = (env: JarvisEnv): string[] => [
  "/etc/shadow",
  "/etc/passwd",
  env.configPath,
  join(env.dir, "secret.yml"),
  "../secret.yml",
  "self/../../secret.yml",
  "escape.yml",
];

describe("console chat", () => {
  let env: JarvisEnv;
  let jarvis: Jarvis;
  let bot: Bot;
  let said = "";
  const input = new PassThrough();

  beforeAll(async () => {
    // The probe sends many commands in a row; the per-person command limit is not under test.
    env = envWithDesigns("chat:\n  rate_limit: {commands: 100, per_seconds: 0.01}\n");
    jarvis = await openJarvis(env.config(), { execute: true, pollMs: 200 });
    const output = new PassThrough();
    output.on("data", (chunk: Buffer) => (said += chunk.toString()));
    bot = await startBot(jarvis, { input, output, interactive: true, log: () => undefined });
  });

  afterAll(async () => {
    await bot?.close();
    await jarvis?.close();
  });

  const answer = (command: string, pattern: RegExp): Promise<string> => {
    const from = said.length;
    input.write(`${command}\n`);
    return eventually(() => (pattern.test(said.slice(from)) ? said.slice(from) : undefined), 60_000, command);
  };

  it("refuses every path outside designs/ without reading it", async () => {
    for (const ref of forbidden(env)) {
      for (const command of [`deploy ${ref}`, `run one ${ref}`]) {
        const reply = await answer(command, /error: .*\n/);
        expect(reply, command).toMatch(/error: design file .* is not inside the designs directories/);
      }
    }
    expect(said).not.toContain(CANARY);
    expect(await jarvis.store.listRuns({ host: "leak", limit: 1 })).toEqual([]);
    const audit = await jarvis.store.listAudit(100);
    expect(audit.filter((a) => a.decision === "error").length).toBe(forbidden(env).length * 2);
  }, 240_000);

  it("deploys a design in designs/ by name, and escapes control bytes and bidi marks in replies", async () => {
    await answer("run one loki.yml", /loki: one succeeded/);
    // The command parser refuses control bytes typed in chat, but not a bidi mark.
    const typed = await answer("deploy \u200enope.yml", /nope.*\n/);
    expect(typed).toContain("design file \\u200enope.yml does not exist in the designs directories");
    // Control bytes from a design's values, echoed by its refusal.
    writeFileSync(
      join(env.dir, "designs", "ctl.yml"),
      'instance:\n  hostname: ctl\n  size: "\\e]0;pwned\\a\\r"\n',
    );
    const echoed = await answer("deploy ctl.yml", /instance\.size.*\n/);
    expect(echoed).toContain("got '\\x1b]0;pwned\\x07\\x0d'");
    expect(typed + echoed).not.toMatch(/[\u001b\u0007\u000d\u200e]/);
  }, 120_000);
});

describe("IRC (real ngircd)", () => {
  let server: Ngircd;
  let env: JarvisEnv;
  let jarvis: Jarvis;
  let bot: Bot;
  let alice: IrcOperator;

  beforeAll(async () => {
    server = await startNgircd();
    env = envWithDesigns(`
${ircOperatorConfig(server.port, { burst: 20, intervalMs: 50 })}
`);
    jarvis = await openJarvis(env.config(), { execute: true, pollMs: 200 });
    bot = await startBot(jarvis, { log: () => undefined });
    alice = await connectOperator(server.port, "alice", ["#ops"]);
  }, 120_000);

  afterAll(async () => {
    await alice?.close();
    await bot?.close();
    await jarvis?.close();
    await server?.close();
  });

  it("refuses /etc/shadow, ../ and a symlink out of designs/, and deploys designs/loki.yml by name", async () => {
    for (const ref of ["/etc/shadow", "../secret.yml", "escape.yml"]) {
      const from = alice.seen.length;
      alice.say("#ops", `jarvis: deploy ${ref}`);
      await alice.waitFor(/alice: error: design file .* is not inside the designs directories/, from, 60_000);
    }
    const from = alice.seen.length;
    alice.say("#ops", "jarvis: run one loki.yml");
    await alice.waitFor(/^jarvis -> #ops: loki: one succeeded/, from, 90_000);
    expect(alice.seen.join("\n")).not.toContain(CANARY);
  }, 240_000);
});
