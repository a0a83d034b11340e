import { describe, expect, it } from "vitest";
import { startJobBody } from "../../../src/api/job-schemas.js";
import { check } from "../../../src/schema/schema-problem.js";

function problem(body: unknown): string | undefined {
  const result = check(startJobBody, body, { label: "body", noun: "field" });
  return result.ok ? undefined : result.problem.message;
}

describe("POST /jobs body", () => {
  it("refuses an argument the operation does not take, naming the key and the operation", () => {
    expect(problem({ operation: "execute", args: { comand: "true" }, targets: ["web-1"] })).toBe(
      "body.args.comand: unknown key for operation execute; expected command",
    );
    expect(
      problem({
        operation: "service",
        args: { name: "nginx", state: "started", graceful: true },
        targets: ["a"],
      }),
    ).toBe("body.args.graceful: unknown key for operation service; expected name, state");
    expect(problem({ operation: "ping", args: { command: "true" }, targets: ["web-1"] })).toBe(
      "body.args.command: unknown key for operation ping; expected no args",
    );
    // kind is the operation's own field on the wire, never an argument.
    expect(problem({ operation: "ping", args: { kind: "execute" }, targets: ["web-1"] })).toMatch(
      /^body\.args\.kind: unknown key for operation ping/,
    );
  });

  it("takes each operation's own arguments", () => {
    expect(problem({ operation: "execute", args: { command: "true" }, targets: ["web-1"] })).toBeUndefined();
    expect(
      problem({ operation: "script", args: { name: "a.sh", body: "true" }, where: "group=web" }),
    ).toBeUndefined();
    expect(problem({ operation: "facts", args: {}, targets: ["web-*"] })).toBeUndefined();
  });
});
