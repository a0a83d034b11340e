import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config.js";
import { ConfigError } from "../../../src/errors.js";

const dir = mkdtempSync(join(tmpdir(), "jarvis-chat-schema-"));
const FILE = join(dir, "jarvis.yml");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** loadConfig on a real file, with no environment: chat secrets are not needed to load. */
function refusal(text: string): ConfigError {
  writeFileSync(FILE, text);
  try {
    loadConfig(FILE, {});
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error("expected a ConfigError, but the configuration was accepted");
}

const IRC = `chat:
  irc:
    host: irc.example.org
`;

describe("chat: and acl: are checked when jarvis.yml is loaded", () => {
  it("refuses a misspelt network key with its line and the key meant", () => {
    const err = refusal(`${IRC}    chanels: ["#ops"]\n`);
    expect(err.code).toBe("E_CONFIG_CHAT");
    expect(err.message).toBe(`${FILE}:4: unknown key 'chat.irc.chanels'; did you mean 'chat.irc.channels'?`);
  });

  it("suggests keys of the network's own kind only", () => {
    // `room` is near xmpp's and matrix's `rooms`, which an IRC network does not have.
    expect(refusal(`${IRC}    room: ["#ops"]\n`).message).toBe(
      `${FILE}:4: unknown key 'chat.irc.room'; known keys here: kind, pace, host, port, tls, tls_insecure, nick, username, password, sasl, channels`,
    );
    expect(refusal("chat:\n  oftc:\n    kind: irc\n    host: h\n    tsl: false\n").message).toBe(
      `${FILE}:5: unknown key 'chat.oftc.tsl'; did you mean 'chat.oftc.tls'?`,
    );
  });

  it("refuses a misspelt chat key rather than taking it for a network", () => {
    expect(refusal("chat:\n  nik: bot\n").message).toBe(
      `${FILE}:2: unknown key 'chat.nik'; did you mean 'chat.nick'?`,
    );
    expect(refusal("chat:\n  rate_limt: {commands: 3}\n").message).toBe(
      `${FILE}:2: unknown key 'chat.rate_limt'; did you mean 'chat.rate_limit'?`,
    );
    expect(refusal("chat:\n  rate_limit: {comands: 3}\n").message).toBe(
      `${FILE}:2: unknown key 'chat.rate_limit.comands'; did you mean 'chat.rate_limit.commands'?`,
    );
  });

  it("refuses a misspelt acl key with its line and the key meant", () => {
    const err = refusal("acl:\n  rols:\n    operator: {commands: ['*']}\n");
    expect(err.code).toBe("E_CONFIG_CHAT");
    expect(err.message).toBe(`${FILE}:2: unknown key 'acl.rols'; did you mean 'acl.roles'?`);
    expect(refusal("acl:\n  people:\n    bob:\n      roles: []\n      identites: [irc:bob]\n").message).toBe(
      `${FILE}:5: unknown key 'acl.people.bob.identites'; did you mean 'acl.people.bob.identities'?`,
    );
  });

  it("refuses a wrong type, naming what was expected and what was given", () => {
    expect(refusal(`${IRC}    port: "6697"\n`).message).toBe(
      `${FILE}:4: chat.irc.port must be a number, at least 1`,
    );
    expect(refusal(`${IRC}    tls: yes please\n`).message).toBe(
      `${FILE}:4: chat.irc.tls must be true or false`,
    );
    expect(refusal("chat:\n  irc:\n    tls: false\n").message).toBe(
      `${FILE}:2: chat.irc.host is required: a string`,
    );
    expect(refusal("acl:\n  rooms_read: 1\n").message).toBe(
      `${FILE}:2: acl.rooms_read must be true or false`,
    );
    expect(refusal("acl:\n  roles:\n    ops: {commands: deploy}\n").message).toBe(
      `${FILE}:3: acl.roles.ops.commands must be a list, got a string`,
    );
  });

  it("never echoes a secret given in the wrong place or shape", () => {
    const secret = "hunter2-s3cr3t";
    const cases = [
      `${IRC}    pasword: ${secret}\n`,
      `${IRC}    password: [${secret}]\n`,
      `${IRC}    sasl: {account: jarvis, password: {value: ${secret}}}\n`,
      `${IRC}    sasl: {account: jarvis, pass: ${secret}}\n`,
      `${IRC}    channels: [{name: "#ops", kee: ${secret}}]\n`,
      `chat:\n  matrix:\n    homeserver: https://m.example.org\n    access_token: [${secret}]\n`,
      `chat:\n  matrix:\n    homeserver: https://m.example.org\n    acess_token: ${secret}\n`,
      `chat:\n  xmpp:\n    service: xmpp://h\n    domain: d\n    username: u\n    password: {p: ${secret}}\n`,
      `chat:\n  xmpp:\n    service: xmpp://h\n    domain: d\n    username: u\n    password: p\n    rooms: [{jid: r@c.d, pasword: ${secret}}]\n`,
      `chat:\n  mynet:\n    kind: ${secret}/x\n`,
    ];
    for (const text of cases) {
      const err = refusal(text);
      expect(err.code).toBe("E_CONFIG_CHAT");
      expect(err.message).not.toContain(secret);
    }
    expect(refusal(cases[1]!).message).toBe(`${FILE}:4: chat.irc.password must be a string, got a list`);
  });

  it("loads chat settings without their secrets in the environment; they are read when chat starts", () => {
    writeFileSync(FILE, `${IRC}    password: \${IRC_PASS}\n`);
    const config = loadConfig(FILE, {});
    expect(config.chat.networks).toMatchObject([{ kind: "irc", name: "irc", password: "${IRC_PASS}" }]);
  });
});
