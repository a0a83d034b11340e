/**
 * A real prometheus-alertmanager for tests: a minimal config (one null receiver), storage in a
 * temp directory, the web API on a free loopback port, clustering off; `stop()` ends it.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually, freePort } from "../../helpers/net.js";
import { startDaemon } from "../../helpers/daemon.js";

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
  const url = `http://127.0.0.1:${port}`;
  const daemon = await startDaemon(
    "alertmanager",
    "/usr/bin/prometheus-alertmanager",
    [
      `--config.file=${join(dir, "alertmanager.yml")}`,
      `--storage.path=${dir}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--cluster.listen-address=",
    ],
    () =>
      eventually(
        async () => ((await fetch(`${url}/-/ready`)).ok ? true : undefined),
        30_000,
        "alertmanager ready",
      ),
  );
  return {
    url,
    port,
    async silences() {
      return (await (await fetch(`${url}/api/v2/silences`)).json()) as Silence[];
    },
    async stop() {
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
