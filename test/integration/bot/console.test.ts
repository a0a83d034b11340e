/**
 * With no chat configured the bot runs the console adapter: the same commands typed in the
 * terminal, no address needed, as console:<os user> who (with no acl) may do everything.
 * When input is not interactive it stays quiet.
 */
import { afterEach, describe, expect, it } from "vitest";
import { PassThrough } from "node:stream";
import { join } from "node:path";
import { openJarvis } from "../../../src/service.js";
import type { Jarvis } from "../../../src/service.js";
import { startBot } from "../../../src/bot/bot.js";
import type { Bot } from "../../../src/bot/bot.js";
import { consoleIdentity } from "../../../src/bot/identity.js";
import { makeJarvisEnv, repoRoot } from "../../helpers/jarvis-env.js";
import { eventually } from "../../helpers/net.js";

const open: { jarvis: Jarvis; bot: Bot }[] = [];
afterEach(async () => {
  for (const { jarvis, bot } of open.splice(0)) {
    await bot.close();
    await jarvis.close();
  }
});

async function consoleBot(interactive: boolean, log: (line: string) => void = () => undefined) {
  const env = makeJarvisEnv();
  const jarvis = await openJarvis(env.config(), { execute: true, pollMs: 200 });
  const input = new PassThrough();
  const output = new PassThrough();
  let text = "";
  output.on("data", (chunk: Buffer) => (text += chunk.toString()));
  const bot = await startBot(jarvis, { input, output, interactive, log });
  open.push({ jarvis, bot });
  return { jarvis, bot, input, said: () => text };
}

describe("console chat", () => {
  it("takes bare commands as the machine's operator and shows run progress", async () => {
    const { jarvis, input, said } = await consoleBot(true);
    expect(
      [...(await eventually(() => (said().includes("you are") ? said() : undefined)))].length,
    ).toBeGreaterThan(0);
    input.write(`run demo ${join(repoRoot, "examples/loki.yml")}\n`);
    await eventually(
      () => (/loki: demo succeeded/.test(said()) ? true : undefined),
      60_000,
      `demo result in ${said()}`,
    );
    expect(said()).toMatch(/loki: demo queued as run/);
    expect(said()).toMatch(/loki: 1\/5 hello:greet/);
    input.write("whoami\n");
    await eventually(() =>
      said().includes(`you are ${consoleIdentity()}; roles: operator (console, no acl configured)`)
        ? true
        : undefined,
    );
    const audit = await jarvis.store.listAudit(10);
    expect(audit.find((a) => a.command.startsWith("run demo"))).toMatchObject({
      identity: consoleIdentity(),
      network: "console",
      decision: "allowed",
    });
  });

  it("does not report the console's connection states (a terminal connects nowhere)", async () => {
    const logged: string[] = [];
    const { input, said } = await consoleBot(true, (line) => logged.push(line));
    input.write("whoami\n");
    await eventually(() => (said().includes("; roles: ") ? true : undefined));
    expect(logged).toEqual([]);
  });

  it("stays quiet when not interactive", async () => {
    const { input, said, bot } = await consoleBot(false);
    // Nothing reads the input at all (no readline, no prompt), and the service is still up.
    expect(input.readableFlowing).toBeNull();
    expect(input.listenerCount("data") + input.listenerCount("readable")).toBe(0);
    expect(bot.adapters.get("console")!.state.kind).toBe("connected");
    expect(said()).toBe("");
  });
});
