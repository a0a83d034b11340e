import { describe, expect, it } from "vitest";
import { probeOnce } from "../../../src/agent/event-probes.js";
import type { ProbeSpec } from "../../../src/agent/event-probes.js";

const spec = (command: string[], extra: Partial<ProbeSpec> = {}): ProbeSpec => ({
  name: "nginx",
  command,
  intervalMs: 1000,
  timeoutMs: 10_000,
  event: "service_down",
  recovered: "service_up",
  ...extra,
});
const signal = new AbortController().signal;
const log = (): void => undefined;

describe("probes", () => {
  it("report a failing exit status once, then the recovery", async () => {
    const failing = new Map<string, boolean>();
    const down = spec(["sh", "-c", "echo refused >&2; exit 3"]);
    expect(await probeOnce(down, failing, signal, log)).toEqual([
      { kind: "service_down", data: { probe: "nginx", exit_code: 3, output: "refused" } },
    ]);
    expect(await probeOnce(down, failing, signal, log)).toEqual([]);
    expect(await probeOnce(spec(["true"]), failing, signal, log)).toEqual([
      { kind: "service_up", data: { probe: "nginx" } },
    ]);
    expect(await probeOnce(spec(["true"]), failing, signal, log)).toEqual([]);
  });

  it("publish the events a program prints as JSON or YAML", async () => {
    const failing = new Map<string, boolean>();
    const json = spec(["sh", "-c", `echo '{"event": "disk_full", "data": {"mount": "/var"}}'`]);
    expect(await probeOnce(json, failing, signal, log)).toEqual([
      { kind: "disk_full", data: { mount: "/var" } },
    ]);
    const yaml = spec(["printf", "- event: a\\n- event: b\\n  data: {n: 1}\\n"]);
    expect(await probeOnce(yaml, failing, signal, log)).toEqual([
      { kind: "a", data: {} },
      { kind: "b", data: { n: 1 } },
    ]);
  });

  it("take output that is no event as a failure", async () => {
    const failing = new Map<string, boolean>();
    const [event] = await probeOnce(spec(["echo", "hello"]), failing, signal, log);
    expect(event).toMatchObject({ kind: "service_down", data: { probe: "nginx", exit_code: 0 } });
  });
});
