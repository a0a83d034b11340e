import { describe, expect, it } from "vitest";
import {
  MAX_COMMAND_BYTES,
  parseChatLine,
  parseCommand,
  splitWords,
} from "../../../src/commands/command-parser.js";
import { typeChatCommand } from "../../../src/commands/typed-command.js";

function command(line: string, direct = false) {
  const r = parseChatLine(line, "jarvis", direct);
  if (r.kind !== "command") throw new Error(`expected a command, got ${JSON.stringify(r)}`);
  return r.command;
}

describe("parseChatLine addressing", () => {
  it("takes 'jarvis:' and 'jarvis,' and '@jarvis' in rooms, any case", () => {
    expect(command("jarvis: status loki")).toMatchObject({ verb: "status", args: ["loki"] });
    expect(command("Jarvis, status")).toMatchObject({ verb: "status", args: [] });
    expect(command("@jarvis deploy cn=loki")).toMatchObject({ verb: "deploy", args: ["cn=loki"] });
  });

  it("ignores room lines not addressed to the bot, and names that only start like it", () => {
    expect(parseChatLine("status loki", "jarvis", false)).toEqual({ kind: "ignored" });
    expect(parseChatLine("jarvisbot: status", "jarvis", false)).toEqual({ kind: "ignored" });
    expect(parseChatLine("I asked jarvis: status", "jarvis", false)).toEqual({ kind: "ignored" });
  });

  it("takes bare commands in direct messages, addressed ones too", () => {
    expect(command("status", true)).toMatchObject({ verb: "status" });
    expect(command("jarvis: whoami", true)).toMatchObject({ verb: "whoami" });
  });

  it("strips IRC formatting before reading the command", () => {
    expect(command("\u0002jarvis\u0002: \u000304status\u000f loki")).toMatchObject({
      verb: "status",
      args: ["loki"],
    });
  });
});

describe("parseCommand", () => {
  it("honours double and single quotes and backslash escapes", () => {
    expect(splitWords(`run demo "examples/my host.yml"`)).toEqual(["run", "demo", "examples/my host.yml"]);
    expect(splitWords(`a 'b "c" d' e\\ f "g\\"h"`)).toEqual(["a", 'b "c" d', "e f", 'g"h']);
    expect(splitWords(`x ""`)).toEqual(["x", ""]);
  });

  it("refuses unbalanced quotes and empty arguments", () => {
    expect(parseCommand(`deploy "examples/loki.yml`)).toMatchObject({
      kind: "error",
      message: expect.stringContaining("unbalanced double quote"),
    });
    expect(parseCommand(`deploy ""`)).toMatchObject({
      kind: "error",
      message: expect.stringContaining("empty argument"),
    });
  });

  it("passes shell metacharacters through as plain words (nothing is ever run by a shell)", () => {
    expect(command("jarvis: deploy $(rm;ls|cat`id`")).toMatchObject({
      verb: "deploy",
      args: ["$(rm;ls|cat`id`"],
    });
    const r = parseCommand("deploy 'x;$(reboot)'");
    expect(r).toMatchObject({ kind: "command", command: { verb: "deploy", args: ["x;$(reboot)"] } });
  });

  it("keeps unicode arguments intact and does not mistake look-alike verbs", () => {
    expect(parseCommand("status lökí-🚀")).toMatchObject({ kind: "command", command: { args: ["lökí-🚀"] } });
    // Cyrillic 'е' in "dеploy" is not the deploy command.
    expect(parseCommand("d\u0435ploy cn=loki")).toMatchObject({
      kind: "error",
      message: expect.stringContaining("unknown command"),
    });
    expect(parseCommand("STATUS")).toMatchObject({ kind: "command", command: { verb: "status" } });
  });

  it("refuses control characters, bidi overrides and NUL with their position", () => {
    expect(parseCommand("status lo\u0000ki")).toMatchObject({
      kind: "error",
      message: expect.stringContaining("U+0000 at position 10"),
    });
    expect(parseCommand("status \u001b[31mloki")).toMatchObject({
      kind: "error",
      message: expect.stringContaining("U+001b"),
    });
    expect(parseCommand("deploy cn=\u202eikol")).toMatchObject({
      kind: "error",
      message: expect.stringContaining("U+202e"),
    });
    expect(parseCommand("status a\nretry b")).toMatchObject({
      kind: "error",
      message: expect.stringContaining("U+000a"),
    });
  });

  it("refuses a 10 KB line quickly and without echoing it all", () => {
    const huge = `deploy ${"a".repeat(10 * 1024)}`;
    const r = parseCommand(huge);
    expect(r).toMatchObject({
      kind: "error",
      message: expect.stringContaining(`limit ${MAX_COMMAND_BYTES}`),
    });
    if (r.kind === "error") expect(r.text.length).toBeLessThanOrEqual(80);
    // Multi-byte characters count in bytes, not characters.
    expect(parseCommand(`status ${"ü".repeat(600)}`)).toMatchObject({
      kind: "error",
      message: expect.stringContaining("too long"),
    });
  });

  it("gives one-line help for unknown commands and usage for wrong argument counts", () => {
    const unknown = parseCommand("frobnicate loki");
    expect(unknown).toMatchObject({ kind: "error" });
    if (unknown.kind === "error") {
      expect(unknown.message).toContain("unknown command 'frobnicate'");
      expect(unknown.message).toContain("deploy");
      expect(unknown.message.includes("\n")).toBe(false);
    }
    expect(parseCommand("deploy")).toMatchObject({
      kind: "error",
      message: expect.stringContaining("usage: deploy <source>"),
    });
    expect(parseCommand("diff loki")).toMatchObject({
      kind: "error",
      message: expect.stringContaining("usage: diff <host> <step>"),
    });
    expect(parseCommand("status a b")).toMatchObject({ kind: "error" });
  });
});

describe("deploy, redeploy and destroy after plan", () => {
  const typed = (text: string) => {
    const parsed = parseCommand(text);
    if (parsed.kind !== "command") throw new Error(parsed.kind === "error" ? parsed.message : "ignored");
    return typeChatCommand(parsed.command.verb, parsed.command.args, parsed.command.text);
  };

  it("reads a trailing 'after plan' as plan-then-apply, and only that", () => {
    expect(typed("deploy cn=loki after plan")).toEqual({
      verb: "deploy",
      source: "cn=loki",
      planThenApply: true,
    });
    expect(typed("deploy cn=loki")).toEqual({ verb: "deploy", source: "cn=loki" });
    expect(typed("redeploy loki force after plan")).toEqual({
      verb: "redeploy",
      target: "loki",
      force: true,
      planThenApply: true,
    });
    expect(typed("destroy loki AFTER PLAN")).toMatchObject({ verb: "destroy", planThenApply: true });
    expect(() => typed("deploy cn=loki after")).toThrow(expect.objectContaining({ code: "E_USAGE" }));
    expect(() => typed("deploy cn=loki before plan")).toThrow(expect.objectContaining({ code: "E_USAGE" }));
    expect(() => typed("redeploy loki now after plan")).toThrow(expect.objectContaining({ code: "E_USAGE" }));
  });
});
