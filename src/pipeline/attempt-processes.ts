/**
 * Every process of one step attempt, wherever it went. Killing the step's process group misses a
 * process that called setsid or setpgid (a daemonising double fork does), so each attempt gets a
 * random marker in its environment (STEP_ENV.attemptId) that every descendant inherits, and a
 * stopped attempt's stragglers are found by reading /proc/<pid>/environ of this user's processes.
 * A process that clears its own environment before exec (`env -i`) is not found: Linux offers
 * nothing cheaper that catches it short of a cgroup per step.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { setTimeout as delay } from "node:timers/promises";
import { STEP_ENV } from "../protocol.js";

/** How often a stopping attempt is looked at again. */
const POLL_MS = 100;
/** SIGKILL rounds before giving up on a process that keeps forking faster than it is killed. */
const KILL_ROUNDS = 20;

/** Pids (other than ours) whose environment carries this attempt's marker. */
export async function findAttemptProcesses(attemptId: string): Promise<number[]> {
  const marker = `${STEP_ENV.attemptId}=${attemptId}`;
  const uid = process.getuid?.();
  const entries = await readdir("/proc");
  const found = await Promise.all(
    entries.map(async (entry) => {
      if (!/^\d+$/.test(entry)) return undefined;
      const pid = Number(entry);
      if (pid === process.pid) return undefined;
      try {
        if (uid !== undefined && uid !== 0 && (await stat(`/proc/${entry}`)).uid !== uid) return undefined;
        const environ = await readFile(`/proc/${entry}/environ`, "latin1");
        return environ.split("\0").includes(marker) ? pid : undefined;
      } catch {
        return undefined; // exited while we looked, or not ours to read
      }
    }),
  );
  return found.filter((pid) => pid !== undefined);
}

/**
 * SIGTERM every process of the attempt, give them `graceMs` to go, then SIGKILL whatever is left
 * (again, until none is found). Resolves once none is found.
 */
export async function stopAttemptProcesses(attemptId: string, graceMs: number): Promise<void> {
  const deadline = Date.now() + graceMs;
  let pids = await findAttemptProcesses(attemptId);
  signalAll(pids, "SIGTERM");
  while (pids.length > 0 && Date.now() < deadline) {
    await delay(POLL_MS);
    pids = await findAttemptProcesses(attemptId);
  }
  for (let round = 0; round < KILL_ROUNDS && pids.length > 0; round++) {
    signalAll(pids, "SIGKILL");
    await delay(round === 0 ? 0 : POLL_MS);
    pids = await findAttemptProcesses(attemptId);
  }
}

function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // Exited since it was found.
    }
  }
}
