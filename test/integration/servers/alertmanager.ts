/**
 * A real prometheus-alertmanager for tests: a minimal config (one null receiver), storage in a
 * temp directory, the web API on a free loopback port, clustering off; `stop()` ends it.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually, freePort } from "../../helpers/net.js";

/** A silence as Alertmanager's API v2 returns it. */
export interface Silence {
  id: string;
  status: { state: string };
  matchers: { name: string; value: string; isRegex: boolean }[];
  endsAt: string;
}

/** A running Alertmanager. */
export interface AlertmanagerServer {
  url: string;
  port: number;
  silences(): Promise<Silence[]>;
  stop(): Promise<void>;
}

/** Start Alertmanager. */
export async function startAlertmanager(): Promise<AlertmanagerServer> {
  const dir = mkdtempSync(join(tmpdir(), "jarvis-alertmanager-"));
  const port = await freePort();
  writeFileSync(join(dir, "alertmanager.yml"), "route:\n  receiver: none\nreceivers:\n  - name: none\n");
  const child: ChildProcess = spawn(
    "/usr/bin/prometheus-alertmanager",
    [`--config.file=${join(dir, "alertmanager.yml")}`, `--storage.path=${dir}`, `--web.listen-address=127.0.0.1:${port}`, "--cluster.listen-address="],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let log = "";
  child.stderr?.on("data", (c: Buffer) => (log = (log + c.toString()).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  try {
    await eventually(async () => ((await fetch(`${url}/-/ready`)).ok ? true : undefined), 30_000, "alertmanager ready");
  } catch (err) {
    child.kill("SIGKILL");
    throw new Error(`alertmanager did not start: ${String(err)}\n${log}`);
  }
  return {
    url,
    port,
    async silences() {
      return (await (await fetch(`${url}/api/v2/silences`)).json()) as Silence[];
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
