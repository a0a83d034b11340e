/**
 * Steps left behind by a jarvis that died. A step runs in its own process group, so killing
 * jarvis with SIGKILL leaves the step running; when another jarvis takes the run over, it must
 * stop that step before running it again, or two copies would work on the same host at once.
 */
import { readFile } from "node:fs/promises";

/** How long a left-behind step gets between SIGTERM and SIGKILL. */
const GRACE_MS = 5000;

/**
 * Stop the process group `pid` if it is still the step of `runId` (its environment says so: a
 * recycled pid belonging to anything else is left alone). Resolves once the group is gone, and
 * to whether there was anything to stop. Only processes on this machine can be checked.
 */
export async function stopLeftBehindStep(pid: number, runId: string): Promise<boolean> {
  if (!(await isStepOf(pid, runId))) return false;
  signalGroup(pid, "SIGTERM");
  const deadline = Date.now() + GRACE_MS;
  while (groupAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (groupAlive(pid)) signalGroup(pid, "SIGKILL");
  return true;
}

async function isStepOf(pid: number, runId: string): Promise<boolean> {
  try {
    const environ = await readFile(`/proc/${pid}/environ`, "utf8");
    return environ.split("\0").includes(`JARVIS_RUN_ID=${runId}`);
  } catch {
    return false; // gone, or not ours to read
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}
