/**
 * Programs that report events: agent.yml `probes:` (a command with its own interval) and the
 * executables of the `events.d` folder (all run every `events.interval_seconds`). Each runs in its
 * own process group with a clean environment and no input: what they run is what agent.yml and
 * the folder say, never anything from the bus.
 *
 * A program reports events in one of two ways:
 *   - it prints JSON or YAML: one `{event: <kind>, data: {...}}` or a list of them, each published;
 *   - it prints nothing: its exit status is its health. The probe's `event` (default
 *     `probe_failed`) is published when it starts failing, once, not again while it keeps failing,
 *     and its `recovered` event (if any) when it succeeds again.
 */
import { access, constants, readdir } from "node:fs/promises";
import { join } from "node:path";
import { setInterval as every } from "node:timers/promises";
import { load } from "js-yaml";
import { z } from "zod";
import type { FactValue } from "../inventory/node-view.js";
import { EVENT_KIND } from "./protocol.js";
import { runProcess } from "./process-run.js";

export interface ProbeSpec {
  name: string;
  command: string[];
  intervalMs: number;
  timeoutMs: number;
  event: string;
  recovered: string | undefined;
}

export interface ProbeEvent {
  kind: string;
  data: Record<string, FactValue>;
}

/** How much of a failing probe's output its event carries. */
const OUTPUT_IN_EVENT = 500;
/** How long an events.d program may run. */
const EVENTS_DIR_TIMEOUT_MS = 30_000;

const Reported = z.object({
  event: z.string().regex(EVENT_KIND),
  data: z.record(z.string(), z.unknown()).default({}),
});
const ReportedList = z.union([Reported.transform((r) => [r]), z.array(Reported).max(100)]);

export interface ProbeRunner {
  close(): void;
}

export function startProbes(
  probes: readonly ProbeSpec[],
  eventsDir: { dir: string | undefined; intervalMs: number },
  publish: (event: ProbeEvent) => void,
  log: (line: string) => void,
): ProbeRunner {
  const stopping = new AbortController();
  const failing = new Map<string, boolean>();
  const runOne = async (spec: ProbeSpec): Promise<void> => {
    for (const event of await probeOnce(spec, failing, stopping.signal, log)) publish(event);
  };
  const loop = (intervalMs: number, round: () => Promise<void>): void => {
    void (async () => {
      try {
        await round();
        for await (const _ of every(intervalMs, undefined, { signal: stopping.signal })) await round();
      } catch (err) {
        if (!stopping.signal.aborted) log(`probes: ${(err as Error).message}`);
      }
    })();
  };
  for (const spec of probes) loop(spec.intervalMs, () => runOne(spec));
  const { dir } = eventsDir;
  if (dir !== undefined) {
    loop(eventsDir.intervalMs, async () => {
      for (const spec of await eventsDirProbes(dir)) await runOne(spec);
    });
  }
  return { close: () => stopping.abort() };
}

/** Run one probe and say which events it yields; `failing` remembers each probe's last health. */
export async function probeOnce(
  spec: ProbeSpec,
  failing: Map<string, boolean>,
  signal: AbortSignal,
  log: (line: string) => void,
): Promise<ProbeEvent[]> {
  const outcome = await runProcess(spec.command, { timeoutMs: spec.timeoutMs, signal });
  if (signal.aborted) return [];
  const output = outcome.stdoutTail.trim();
  if (output !== "" && outcome.exitCode === 0) {
    const reported = parseReported(output);
    if (reported) return reported;
    log(`probe ${spec.name}: its output is not {event, data} (JSON or YAML); taken as a failure`);
  }
  const ok = outcome.exitCode === 0 && output === "";
  const was = failing.get(spec.name);
  failing.set(spec.name, !ok);
  if (!ok && was !== true) {
    const why =
      outcome.spawnError ??
      (outcome.stopped === "timeout" ? `timed out after ${spec.timeoutMs} ms` : undefined) ??
      (outcome.stderrTail.trim() || output).slice(-OUTPUT_IN_EVENT);
    return [{ kind: spec.event, data: { probe: spec.name, exit_code: outcome.exitCode, output: why } }];
  }
  if (ok && was === true && spec.recovered) {
    return [{ kind: spec.recovered, data: { probe: spec.name } }];
  }
  return [];
}

function parseReported(output: string): ProbeEvent[] | undefined {
  let value: unknown;
  try {
    value = load(output, { json: true });
  } catch {
    return undefined;
  }
  const parsed = ReportedList.safeParse(value);
  if (!parsed.success) return undefined;
  // YAML may hold dates and other values JSON cannot say: events carry only JSON.
  return parsed.data.map((r) => ({
    kind: r.event,
    data: JSON.parse(JSON.stringify(r.data)) as Record<string, FactValue>,
  }));
}

/** The executables of the events.d folder, each a probe named after its file. */
async function eventsDirProbes(dir: string): Promise<ProbeSpec[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const specs: ProbeSpec[] = [];
  for (const name of names.sort()) {
    const file = join(dir, name);
    if (name.startsWith(".") || !(await executable(file))) continue;
    specs.push({
      name: `events.d/${name}`,
      command: [file],
      intervalMs: 0,
      timeoutMs: EVENTS_DIR_TIMEOUT_MS,
      event: "probe_failed",
      recovered: undefined,
    });
  }
  return specs;
}

async function executable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
