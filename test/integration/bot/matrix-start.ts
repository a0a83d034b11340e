/**
 * Runs the built `jarvis start` with Matrix configured, waits until its /sync long-poll is pending,
 * sends SIGTERM and reports how it ended. The duration is measured for the output, never asserted
 * (the machine is shared); the tests check that it exited and what it said.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { JarvisEnv } from "../../helpers/jarvis-env.js";
import { eventually } from "../../helpers/net.js";

/** How a stopped `jarvis start` ended. */
export interface StoppedService {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  /** From SIGTERM to exit. */
  ms: number;
}

/** Far beyond the 5 s a stop may take, so only a process that hangs on the network misses it. */
const EXIT_DEADLINE_MS = 20_000;

/** Start `jarvis start` in `env` as the Matrix user of `token`, then stop it once `syncPending`. */
export async function stopJarvisStart(
  env: JarvisEnv,
  token: string,
  syncPending: () => boolean | Promise<boolean>,
): Promise<StoppedService> {
  const child = env.spawnCli(["start"], { env: { TEST_MATRIX_TOKEN: token } });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => void (stderr += chunk.toString()));
  child.stdout?.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  try {
    await eventually(
      () => (/^matrix: connected$/m.test(stderr) && /^jarvis: started/m.test(stderr) ? true : undefined),
      120_000,
      `jarvis start connected to Matrix (stderr: ${stderr.slice(-500)})`,
    );
    await eventually(async () => ((await syncPending()) ? true : undefined), 60_000, "a pending /sync");
    const signalled = Date.now();
    child.kill("SIGTERM");
    const giveUp = new AbortController();
    const ended = await Promise.race([
      exited,
      sleep(EXIT_DEADLINE_MS, undefined, { signal: giveUp.signal }).then(() => undefined),
    ]);
    giveUp.abort();
    if (!ended) {
      throw new Error(`jarvis start still running ${EXIT_DEADLINE_MS} ms after SIGTERM; stderr:\n${stderr}`);
    }
    return { ...ended, stderr, ms: Date.now() - signalled };
  } finally {
    child.kill("SIGKILL");
  }
}
