/**
 * Chat round trip on a real ngircd: the time from an operator's `jarvis: status loki` to the bot's
 * reply, p50/p99 over 500 commands, idle and while 200 runs are in flight. The bench user is
 * exempt from the bot's rate limit and pacing, and the server's flood penalty is off, so the
 * figures measure jarvis. Printed, never asserted.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import irc from "irc-framework";
import type { IrcMessageEvent } from "irc-framework";
import { buildConfig } from "../src/config.js";
import { parseYamlMapping } from "../src/clipboard/yaml.js";
import { openJarvis } from "../src/service.js";
import { startBot } from "../src/bot/bot.js";
import { startNgircd } from "../test/integration/servers/ngircd.js";
import { fmt } from "./lib.js";

const COMMANDS = 500;
const IN_FLIGHT = 200;
const who = { identity: "bench", origin: "bench" };

/** Run the chat round-trip benchmark and print its figures. */
export async function benchChatRoundTrip(): Promise<void> {
  const server = await startNgircd();
  const dir = mkdtempSync(join(tmpdir(), "jarvis-bench-chat-"));
  mkdirSync(join(dir, "pipelines"));
  mkdirSync(join(dir, "steps"));
  // A shell step that holds its run in flight until jarvis stops it.
  writeFileSync(join(dir, "steps", "hold"), "#!/bin/sh\nsleep 600 &\nwait $!\ncat\n");
  writeFileSync(join(dir, "steps", "pass"), "#!/bin/sh\nexec cat\n");
  chmodSync(join(dir, "steps", "hold"), 0o755);
  chmodSync(join(dir, "steps", "pass"), 0o755);
  writeFileSync(join(dir, "pipelines", "quick.yml"), "steps:\n  - pass:x\n");
  writeFileSync(join(dir, "pipelines", "hold.yml"), "steps:\n  - uses: hold:x\n    timeout: 15m\n");
  const text = `store: {path: ${join(dir, "jarvis.sqlite")}}
steps: {dirs: [${join(dir, "steps")}]}
pipelines: {dirs: [${join(dir, "pipelines")}]}
chat:
  nick: jarvis
  rate_limit: {exempt: ["irc:bench!~bench@127.0.0.1"]}
  irc: {host: 127.0.0.1, port: ${server.port}, tls: false, channels: ["#bench"]}
`;
  const config = buildConfig(parseYamlMapping(text, join(dir, "jarvis.yml")), join(dir, "jarvis.yml"));
  const jarvis = await openJarvis(config, { execute: true, pollMs: 100 });
  const bot = await startBot(jarvis, { log: () => undefined });
  const client = new irc.Client();
  try {
    const design = (host: string): string => {
      const path = join(dir, `${host}.yml`);
      writeFileSync(path, `instance:\n  hostname: ${host}\n  provider: local\n`);
      return path;
    };
    const first = await jarvis.control.start("quick", design("loki"), who);
    await waitUntil(
      async () => (await jarvis.control.status(first.id))[0]?.run.state === "succeeded",
      60_000,
    );

    let pending: ((line: string) => void) | undefined;
    client.on("privmsg", (e: IrcMessageEvent) => {
      if (e.nick === "jarvis" && e.message.startsWith("bench: ")) pending?.(e.message);
    });
    const joined = new Promise<void>((resolve) =>
      client.on("join", (e: { nick: string }) => e.nick === "bench" && resolve()),
    );
    client.on("registered", () => client.join("#bench"));
    client.connect({
      host: "127.0.0.1",
      port: server.port,
      nick: "bench",
      username: "bench",
      auto_reconnect: false,
    });
    await joined;

    const measure = async (): Promise<number[]> => {
      const times: number[] = [];
      for (let i = 0; i < COMMANDS; i++) {
        const start = performance.now();
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error("no reply within 10 s")), 10_000);
          pending = () => {
            clearTimeout(timer);
            resolve();
          };
          client.say("#bench", "jarvis: status loki");
        });
        times.push(performance.now() - start);
      }
      return times;
    };

    const idle = await measure();
    print("idle", idle, 50);

    for (let i = 0; i < IN_FLIGHT; i++) await jarvis.control.start("hold", design(`busy${i}`), who);
    await waitUntil(
      async () =>
        (await jarvis.control.hosts({ limit: 10_000 })).hosts.filter((h) => h.latest.state === "running")
          .length >= IN_FLIGHT,
      120_000,
    );
    const loaded = await measure();
    print(`${IN_FLIGHT} runs in flight`, loaded, 200);
  } finally {
    client.quit("done");
    await bot.close();
    await jarvis.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function print(label: string, times: number[], goalMs: number): void {
  const sorted = [...times].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  console.log(
    `chat round trip, ${COMMANDS} x status, ${label}`.padEnd(44) +
      ` p50 ${fmt(at(0.5))} ms  p99 ${fmt(at(0.99))} ms  (goal p99 < ${goalMs} ms)`,
  );
}

async function waitUntil(probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`bench setup did not finish within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
