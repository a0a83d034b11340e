/**
 * Where jarvis's agent lives on a host and how it is run there. A real host runs it under
 * systemd from /opt/jarvis-agent; a local-provider host is a directory on jarvis's own machine,
 * so its agent lives under that host's $HOME and runs as a detached process with a pid file,
 * which the local provider stops with the host's sshd (LOCAL_AGENT_DIR in providers/local.ts).
 * Every file the agent reads sits in one directory, named relative to agent.yml.
 */
import { dumpYaml } from "../clipboard/yaml-dump.js";
import { LOCAL_AGENT_DIR, LOCAL_AGENT_PID } from "../providers/local.js";
import type { AgentInstallSettings } from "./agent-install-settings.js";

export const BUNDLE_FILE = "jarvis-agent.mjs";
export const SYSTEMD_UNIT = "jarvis-agent.service";
const SYSTEMD_DIR = "/opt/jarvis-agent";

export interface AgentLayout {
  kind: "systemd" | "local";
  /** The agent's directory as a shell word (the local one starts at the session's $HOME). */
  dirWord: string;
  /** What people read in logs and plans. */
  dirShown: string;
  /** agent.yml's state_dir. */
  stateDir: string;
  /** Node.js on the host. */
  nodeBinary: string;
  /** Shell command that stops the agent (and for systemd, installs and enables the unit). */
  stop: string;
  /** Shell command that starts it. */
  start: string;
  /** Shell command printing the agent's last log lines. */
  logTail: string;
}

export function systemdLayout(nodeBinary = "/usr/bin/node"): AgentLayout {
  const unit = `/etc/systemd/system/${SYSTEMD_UNIT}`;
  return {
    kind: "systemd",
    dirWord: SYSTEMD_DIR,
    dirShown: SYSTEMD_DIR,
    stateDir: "/var/lib/jarvis-agent",
    nodeBinary,
    stop: `cp ${SYSTEMD_DIR}/${SYSTEMD_UNIT} ${unit} && systemctl daemon-reload && systemctl enable --quiet ${SYSTEMD_UNIT} && systemctl stop ${SYSTEMD_UNIT}`,
    start: `systemctl start ${SYSTEMD_UNIT}`,
    logTail: `journalctl -u ${SYSTEMD_UNIT} -n 5 --no-pager -o cat`,
  };
}

export function localLayout(nodeBinary: string): AgentLayout {
  const dir = `"$HOME"/${LOCAL_AGENT_DIR}`;
  const pid = `${dir}/${LOCAL_AGENT_PID}`;
  // The pid file may outlive its process and the pid be reused: only a process whose command line
  // names this agent.yml is stopped. A zombie (nobody reaped it yet) counts as gone.
  const stop = [
    `if [ -f ${pid} ]; then p=$(cat ${pid})`,
    `if grep -qs "${LOCAL_AGENT_DIR}/agent.yml" /proc/$p/cmdline; then kill $p; i=0`,
    `while [ -e /proc/$p ] && ! grep -qs '^State:.*Z' /proc/$p/status && [ $i -lt 150 ]; do sleep 0.1; i=$((i+1)); done`,
    `kill -9 $p 2>/dev/null; fi; rm -f ${pid}; fi; true`,
  ].join("; ");
  return {
    kind: "local",
    dirWord: dir,
    dirShown: `$HOME/${LOCAL_AGENT_DIR}`,
    stateDir: "state",
    nodeBinary,
    stop,
    // setsid: the agent leaves the SSH session's process group, so the session can end.
    // A simple command in the background (not a list): the shell's child execs setsid, nohup, then
    // node, so $! is the agent's pid and nothing keeps the SSH session's output open.
    start: `cd ${dir} || exit 1; setsid nohup ${shellQuote(nodeBinary)} "$PWD"/${BUNDLE_FILE} --config "$PWD"/agent.yml >>agent.log 2>&1 </dev/null & echo $! > ${pid}`,
    logTail: `tail -n 5 ${dir}/agent.log`,
  };
}

/** Files that go with agent.yml: the agent's TLS material, named as agent.yml names them. */
export const TLS_FILES = { ca: "ca.pem", cert: "cert.pem", key: "key.pem" } as const;

export function agentYmlText(s: AgentInstallSettings, layout: AgentLayout, jarvisPublicKey: string): string {
  const tls = s.jarvisNats.tls;
  const doc = {
    node: s.node,
    nats: {
      url: s.agentUrls.length === 1 ? s.agentUrls[0] : s.agentUrls,
      nkey_seed_file: "agent.nk",
      ...(tls
        ? {
            tls: {
              ca: TLS_FILES.ca,
              ...(tls.cert ? { cert: TLS_FILES.cert } : {}),
              ...(tls.key ? { key: TLS_FILES.key } : {}),
            },
          }
        : {}),
    },
    jarvis_public_key: jarvisPublicKey,
    state_dir: layout.stateDir,
    groups: s.groups,
    heartbeat_seconds: s.heartbeatSeconds,
    facts: { static: s.staticFacts },
    allow: {
      operations: s.allow.operations,
      ...(s.allow.commands ? { commands: s.allow.commands } : {}),
    },
  };
  return `# Written by jarvis (agent:install) for ${s.node}; reinstalling overwrites it.\n${dumpYaml(doc)}`;
}

/** The systemd unit of a real host's agent. */
export function systemdUnitText(nodeBinary: string): string {
  return [
    "# Written by jarvis (agent:install); reinstalling overwrites it.",
    "[Unit]",
    "Description=jarvis agent (connects out to jarvis's NATS server)",
    "After=network-online.target",
    "Wants=network-online.target",
    "",
    "[Service]",
    "Type=simple",
    `ExecStart=${nodeBinary} ${SYSTEMD_DIR}/${BUNDLE_FILE} --config ${SYSTEMD_DIR}/agent.yml`,
    "Restart=always",
    "RestartSec=5",
    // Exit 2 (usage) and 3 (agent.yml or its keys) do not mend by restarting; a reinstall does.
    "RestartPreventExitStatus=2 3",
    // SIGTERM to the agent alone first, so it drains its connection; then its jobs' processes.
    "KillMode=mixed",
    "TimeoutStopSec=30",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

/** One word for a POSIX shell, whatever the text. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
