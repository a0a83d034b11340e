/**
 * A real named (bind9) for tests: one primary zone that accepts RFC 2136 updates signed with a
 * TSIG key made by tsig-keygen, on a free loopback port, in a temp directory; `stop()` ends it.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "../../helpers/net.js";
import { startDaemon } from "../../helpers/daemon.js";

const run = promisify(execFile);

/** A running named. */
export interface Bind9Server {
  port: number;
  zone: string;
  keyName: string;
  /** Base64 TSIG secret (what DNS_TSIG_SECRET holds). */
  secret: string;
  dir: string;
  /** Query the server with dig; returns dig's +short answer lines. */
  dig(name: string, type: string): Promise<string[]>;
  stop(): Promise<void>;
}

/** Start named with zone `zone` (default example.test) updatable with key `jarvis-key`. */
export async function startBind9(zone = "example.test"): Promise<Bind9Server> {
  const dir = mkdtempSync(join(tmpdir(), "jarvis-named-"));
  const port = await freePort();
  const keyName = "jarvis-key";
  const { stdout } = await run("tsig-keygen", ["-a", "hmac-sha256", keyName]);
  const secret = /secret "([^"]+)"/.exec(stdout)?.[1];
  if (!secret) throw new Error(`tsig-keygen printed no secret: ${stdout}`);
  writeFileSync(
    join(dir, "named.conf"),
    `options {
  directory "${dir}";
  pid-file "${dir}/named.pid";
  session-keyfile "${dir}/session.key";
  managed-keys-directory "${dir}";
  listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
  allow-query { any; };
};
controls { };
${stdout}
zone "${zone}" {
  type primary;
  file "${dir}/${zone}.zone";
  update-policy { grant ${keyName} zonesub ANY; };
};
`,
  );
  writeFileSync(
    join(dir, `${zone}.zone`),
    `$TTL 300
@ IN SOA ns.${zone}. hostmaster.${zone}. 1 3600 600 86400 300
@ IN NS ns.${zone}.
ns IN A 127.0.0.1
`,
  );
  const daemon = await startDaemon(
    "named",
    "/usr/sbin/named",
    ["-g", "-n", "1", "-c", join(dir, "named.conf")],
    port,
    30_000,
  );
  return {
    port,
    zone,
    keyName,
    secret,
    dir,
    async dig(name, type) {
      const out = await run("dig", [
        "+short",
        "+time=3",
        "+tries=2",
        "-p",
        String(port),
        "@127.0.0.1",
        name,
        type,
      ]);
      return out.stdout
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l !== "")
        .sort();
    },
    async stop() {
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
