/**
 * A real InspIRCd linked to real Atheme services for tests of IRC accounts: generated configs in a
 * temp dir, free loopback ports for clients and for the server link, SASL PLAIN answered by
 * Atheme's SaslServ, and IRCv3 account-tag/account-notify/extended-join from InspIRCd. Accounts
 * are made the way a user makes one: `NickServ REGISTER` from a client (no e-mail verification).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import irc from "irc-framework";
import type { IrcMessageEvent } from "irc-framework";
import { startDaemon } from "../../helpers/daemon.js";
import type { Daemon } from "../../helpers/daemon.js";
import { eventually, freePort, waitForPort } from "../../helpers/net.js";

/** A running InspIRCd with Atheme linked to it. */
export interface InspircdNetwork {
  /** The client port (plain IRC on 127.0.0.1). */
  port: number;
  /** Register a services account `account` with `password`, as a client using that nick would. */
  register(account: string, password: string): Promise<void>;
  /** Stop both servers and remove their files. */
  close(): Promise<void>;
}

/** Options for startInspircd. */
export interface InspircdOptions {
  /** Load m_ircv3_accounttag (default true); without it clients learn accounts from WHOIS only. */
  accountTag?: boolean;
}

const SERVER = "irc.jarvis.test";
const SERVICES = "services.jarvis.test";

/** Start InspIRCd and Atheme, and wait until Atheme has finished its burst over the link. */
export async function startInspircd(options: InspircdOptions = {}): Promise<InspircdNetwork> {
  const dir = mkdtempSync(join(tmpdir(), "jarvis-inspircd-"));
  const port = await freePort();
  const linkPort = await freePort();
  // The link password only guards a loopback port that lives as long as the test.
  const linkPassword = `link-${process.pid}-${linkPort}`;
  const atheme = join(dir, "atheme.log");
  writeFileSync(join(dir, "motd"), "jarvis test server\n");
  writeFileSync(
    join(dir, "inspircd.conf"),
    `<server name="${SERVER}" description="jarvis test server" id="0AA" network="JarvisTest">
<admin name="jarvis" nick="jarvis" email="jarvis@example.org">
<bind address="127.0.0.1" port="${port}" type="clients">
<bind address="127.0.0.1" port="${linkPort}" type="servers">
<connect allow="*" timeout="60" threshold="1000" pingfreq="120" hardsendq="1048576" softsendq="65536" recvq="65536" localmax="1000" globalmax="1000" fakelag="off" commandrate="100000" resolvehostnames="no" useident="no">
<files motd="${join(dir, "motd")}">
<dns timeout="1">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="${join(dir, "inspircd.log")}">
<options prefixquit="Quit: ">
<security hideserver="" flatlinks="no" hideulines="no">
<performance nouserdns="yes">
<module name="spanningtree">
<module name="services_account">
<module name="sasl">
<module name="cap">
<module name="ircv3">
${options.accountTag === false ? "" : '<module name="ircv3_accounttag">'}
<module name="ircv3_ctctags">
<module name="hidechans">
<module name="svshold">
<module name="chghost">
<link name="${SERVICES}" ipaddr="127.0.0.1" port="${linkPort}" allowmask="127.0.0.1" sendpass="${linkPassword}" recvpass="${linkPassword}">
<uline server="${SERVICES}" silent="yes">
<sasl target="${SERVICES}">
`,
  );
  writeFileSync(
    join(dir, "atheme.conf"),
    `loadmodule "modules/protocol/inspircd";
loadmodule "modules/backend/opensex";
loadmodule "modules/crypto/pbkdf2v2";
loadmodule "modules/nickserv/main";
loadmodule "modules/nickserv/register";
loadmodule "modules/nickserv/identify";
loadmodule "modules/saslserv/main";
loadmodule "modules/saslserv/plain";
pbkdf2v2 { };
serverinfo {
  name = "${SERVICES}";
  desc = "jarvis test services";
  numeric = "00A";
  recontime = 1;
  netname = "JarvisTest";
  hidehostsuffix = "users.jarvis.test";
  adminname = "jarvis";
  adminemail = "jarvis@example.org";
  registeremail = "noreply@example.org";
  mta = "/bin/false";
  loglevel = { error; info; admin; network; };
  maxlogins = 50;
  maxusers = 50;
  mdlimit = 30;
  emaillimit = 10;
  emailtime = 300;
  auth = none;
  casemapping = rfc1459;
};
uplink "${SERVER}" {
  host = "127.0.0.1";
  send_password = "${linkPassword}";
  receive_password = "${linkPassword}";
  port = ${linkPort};
};
nickserv {
  nick = "NickServ";
  user = "NickServ";
  host = "${SERVICES}";
  real = "Nickname Services";
  maxnicks = 5;
  expire = 30;
};
saslserv {
  nick = "SaslServ";
  user = "SaslServ";
  host = "${SERVICES}";
  real = "SASL Authentication Agent";
};
general {
  flood_msgs = 1000;
  flood_time = 10;
  ratelimit_uses = 1000;
  ratelimit_period = 60;
  kline_time = 7;
  commit_interval = 5;
  uplink_sendq_limit = 1048576;
  language = "en";
};
`,
  );
  const daemons: Daemon[] = [];
  const close = async (): Promise<void> => {
    for (const d of daemons.reverse()) await d.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // InspIRCd refuses to run as root unless told it is meant; tests in containers run as root.
    const root = process.getuid?.() === 0 ? ["--runasroot"] : [];
    daemons.push(
      await startDaemon(
        "inspircd",
        "inspircd",
        ["--config", join(dir, "inspircd.conf"), "--nofork", "--nopid", ...root],
        port,
      ),
    );
    await waitForPort(linkPort, "127.0.0.1", 20_000);
    // Atheme logs the end of its sync with the uplink: from then on SASL and NickServ answer.
    daemons.push(
      await startDaemon(
        "atheme",
        "atheme-services",
        ["-n", "-c", join(dir, "atheme.conf"), "-D", dir, "-l", atheme, "-p", join(dir, "atheme.pid")],
        () =>
          eventually(
            () => (readText(atheme).includes("finished synching with uplink") ? true : undefined),
            30_000,
            `atheme linked to inspircd (log: ${readText(atheme).slice(-1000)})`,
          ),
      ),
    );
  } catch (err) {
    await close();
    throw err;
  }
  return { port, register: (account, password) => register(port, account, password), close };
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/** Connect as `account`, ask NickServ to register that nick, and wait for its confirmation. */
async function register(port: number, account: string, password: string): Promise<void> {
  const client = new irc.Client();
  const notices: string[] = [];
  let registered = false;
  client.on("notice", (e: IrcMessageEvent) => notices.push(`${e.nick}: ${e.message}`));
  client.on("registered", () => (registered = true));
  client.connect({
    host: "127.0.0.1",
    port,
    nick: account,
    username: account,
    gecos: "register",
    auto_reconnect: false,
  });
  try {
    await eventually(() => (registered ? true : undefined), 20_000, `${account} connected to register`);
    client.say("NickServ", `REGISTER ${password} ${account}@example.org`);
    await eventually(
      () => notices.find((n) => /^NickServ: .* is now registered/i.test(n)),
      20_000,
      `NickServ registering ${account} (notices: ${notices.join(" | ")})`,
    );
  } finally {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2_000);
      client.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      client.quit("registered");
    });
    client.connection.end();
  }
}
