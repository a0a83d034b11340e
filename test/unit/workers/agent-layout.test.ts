import { describe, expect, it } from "vitest";
import { load } from "js-yaml";
import { agentYmlSchema, buildAgentConfig } from "../../../src/agent/agent-config.js";
import { generateSigningKeys } from "../../../src/agent/signing.js";
import {
  agentYmlText,
  localLayout,
  systemdLayout,
  systemdUnitText,
} from "../../../src/workers/agent-layout.js";
import { installSettings } from "../../../src/workers/agent-install-settings.js";

const params = {
  nats: { url: "nats://bus.example.net:4222", nkey_seed_file: "jarvis.nk", tls: { ca: "ca.pem" } },
  signing_key_file: "jarvis-signing.pem",
  authorization_file: "/etc/nats/jarvis-agents.conf",
  nats_reload: { command: ["systemctl", "reload", "nats-server"] },
};
const clipboard = {
  instance: { hostname: "web-1" },
  agent: { groups: ["web"], facts: { datacenter: "atlanta" }, allow: { operations: ["ping", "execute"] } },
};

describe("agent.yml written by agent:install", () => {
  it("is an agent.yml the agent accepts, with the design's groups, facts and allow list", () => {
    const s = installSettings(clipboard, params);
    const text = agentYmlText(s, systemdLayout(), generateSigningKeys().publicKey);
    const parsed = agentYmlSchema.parse(load(text));
    const config = buildAgentConfig(
      { ...parsed, nats: { ...parsed.nats, nkey_seed: "SUAAAA" } },
      "/opt/jarvis-agent",
    );
    expect(config.node).toBe("web-1");
    expect(config.natsUrls).toEqual(["nats://bus.example.net:4222"]);
    expect(config.tls).toEqual({ ca: "/opt/jarvis-agent/ca.pem" });
    expect(config.stateDir).toBe("/var/lib/jarvis-agent");
    expect(config.groups).toEqual(["web"]);
    expect(config.facts.static).toEqual({ datacenter: "atlanta" });
    expect([...config.allow.operations]).toEqual(["ping", "execute"]);
    expect(parsed.nats.nkey_seed_file).toBe("agent.nk");
  });

  it("takes the agents' own URL when it differs from jarvis's", () => {
    const s = installSettings(clipboard, { ...params, agent_url: ["nats://a:4222", "nats://b:4222"] });
    expect(load(agentYmlText(s, localLayout("/usr/bin/node"), "k"))).toMatchObject({
      nats: { url: ["nats://a:4222", "nats://b:4222"] },
      state_dir: "state",
    });
  });

  it("names what is missing from modules.agent.with", () => {
    expect(() => installSettings(clipboard, { nats: params.nats })).toThrow(
      /needs signing_key_file, authorization_file, nats_reload/,
    );
    expect(() => installSettings(clipboard, { ...params, nats_reload: { pid: "x" } })).toThrow(
      /nats_reload must be \{pid_file: PATH\} or \{command: \[argv...\]\}/,
    );
  });
});

describe("the systemd unit", () => {
  it("runs the bundle with the configured Node.js and is not restarted on a configuration error", () => {
    const unit = systemdUnitText("/usr/local/bin/node");
    expect(unit).toContain(
      "ExecStart=/usr/local/bin/node /opt/jarvis-agent/jarvis-agent.mjs --config /opt/jarvis-agent/agent.yml",
    );
    expect(unit).toContain("Restart=always");
    expect(unit).toContain("RestartPreventExitStatus=2 3");
    expect(unit).toContain("WantedBy=multi-user.target");
  });
});
