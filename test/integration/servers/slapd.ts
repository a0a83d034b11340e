/**
 * A real OpenLDAP slapd for tests: slapd.conf with the core, cosine, nis and inetorgperson schemas,
 * an mdb database in a temp directory, base entries loaded with slapadd (dc=example,dc=test with
 * ou=Hosts), listening on a free loopback port; `stop()` ends it.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "../../helpers/net.js";
import { startDaemon } from "../../helpers/daemon.js";

const run = promisify(execFile);

/** A running slapd. */
export interface SlapdServer {
  url: string;
  port: number;
  baseDn: string;
  bindDn: string;
  password: string;
  dir: string;
  /** Run ldapsearch as the admin; returns its LDIF output. */
  search(base: string, filter?: string): Promise<string>;
  stop(): Promise<void>;
}

/** Start slapd; `extraLdif` is loaded after the base entries (e.g. host entries for the LDAP source). */
export async function startSlapd(extraLdif = ""): Promise<SlapdServer> {
  const dir = mkdtempSync(join(tmpdir(), "jarvis-slapd-"));
  mkdirSync(join(dir, "db"));
  const port = await freePort();
  const baseDn = "dc=example,dc=test";
  const bindDn = `cn=admin,${baseDn}`;
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  const conf = join(dir, "slapd.conf");
  writeFileSync(
    conf,
    `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile ${dir}/slapd.pid
argsfile ${dir}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
maxsize 10485760
suffix "${baseDn}"
rootdn "${bindDn}"
rootpw ${password}
directory ${dir}/db
`,
  );
  const ldif = `dn: ${baseDn}
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: ou=Hosts,${baseDn}
objectClass: organizationalUnit
ou: Hosts
${extraLdif ? `\n${extraLdif.trim()}\n` : ""}`;
  writeFileSync(join(dir, "base.ldif"), ldif);
  await run("/usr/sbin/slapadd", ["-f", conf, "-l", join(dir, "base.ldif")]);
  const url = `ldap://127.0.0.1:${port}`;
  const daemon = await startDaemon(
    "slapd",
    "/usr/sbin/slapd",
    ["-h", `${url}/`, "-f", conf, "-d", "0"],
    port,
    30_000,
  );
  return {
    url,
    port,
    baseDn,
    bindDn,
    password,
    dir,
    async search(base, filter = "(objectClass=*)") {
      const out = await run("ldapsearch", [
        "-x",
        "-LLL",
        "-o",
        "ldif-wrap=no",
        "-H",
        url,
        "-D",
        bindDn,
        "-w",
        password,
        "-b",
        base,
        filter,
      ]);
      return out.stdout;
    },
    async stop() {
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
