import { describe, expect, it } from "vitest";
import { buildConfig } from "../../../src/config.js";
import { parseYamlMapping } from "../../../src/clipboard/yaml.js";
import { loadChatConfig } from "../../../src/bot/chat-config.js";

function load(text: string, env: NodeJS.ProcessEnv = {}) {
  return loadChatConfig(buildConfig(parseYamlMapping(text, "/etc/jarvis.yml"), "/etc/jarvis.yml", env), env);
}

describe("loadChatConfig", () => {
  it("reads networks, channels with keys, secrets from the environment, and the acl", () => {
    const chat = load(
      `chat:
  nick: jarvis
  irc:
    host: 127.0.0.1
    tls: false
    channels: ["#ops", {name: "#secret", key: "\${KEY}"}]
  matrix:
    homeserver: https://m.example.org
    access_token: \${TOKEN}
acl:
  roles:
    operator: {commands: ["*"]}
  people:
    alice: {roles: [operator], identities: [irc:alice, "matrix:@alice:example.org"]}
`,
      { KEY: "k3y", TOKEN: "t0k" },
    );
    expect(chat.networks.map((n) => n.name)).toEqual(["irc", "matrix"]);
    const irc = chat.networks[0]!;
    expect(irc).toMatchObject({
      kind: "irc",
      port: 6667,
      channels: [{ name: "#ops" }, { name: "#secret", key: "k3y" }],
    });
    expect(chat.networks[1]).toMatchObject({
      kind: "matrix",
      accessToken: "t0k",
      stateDir: "/etc/.state/matrix",
    });
    expect(chat.acl.grants.get("matrix:@alice:example.org")).toEqual(["operator"]);
  });

  it("points at file and line for mistakes", () => {
    expect(() => load("chat:\n  irc:\n    host: h\n    channels: [ops]\n")).toThrow(
      /jarvis.yml:4: chat.irc.channels.0: 'ops' is not a channel name/,
    );
    expect(() => load("chat:\n  slack:\n    token: x\n")).toThrow(
      /jarvis.yml:2: chat.slack.kind: unknown network kind 'slack'/,
    );
    expect(() => load("acl:\n  roles:\n    ops: {commands: [deploy, nuke]}\n")).toThrow(
      /jarvis.yml:3: acl.roles.ops.commands.1: unknown command 'nuke'/,
    );
    expect(() => load("acl:\n  people:\n    bob: {roles: [root], identities: [irc:bob]}\n")).toThrow(
      /no role 'root'/,
    );
    expect(() => load("chat:\n  irc:\n    host: h\n    password: ${IRC_PASS}\n")).toThrow(
      /IRC_PASS is not set/,
    );
  });

  it("with no chat section there are no networks (the console runs) and no acl", () => {
    const chat = load("store: {path: x.sqlite}\n");
    expect(chat.networks).toEqual([]);
    expect(chat.acl.configured).toBe(false);
    expect(chat.nick).toBe("jarvis");
  });
});
