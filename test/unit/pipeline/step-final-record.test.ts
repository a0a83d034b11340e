import { describe, expect, it } from "vitest";
import { PassThrough } from "node:stream";
import { collectFinalRecord, parseFinalRecord } from "../../../src/pipeline/step-final-record.js";

describe("a step's final record", () => {
  it("takes a well-formed record, its message on one line", () => {
    expect(
      parseFinalRecord('{"code": "E_SSH_AUTH", "message": "refused\\n  key", "retryable": false}'),
    ).toEqual({
      kind: "record",
      record: { code: "E_SSH_AUTH", message: "refused key", retryable: false },
    });
    expect(parseFinalRecord('{"code": "E_X1", "message": "m"}')).toMatchObject({ kind: "record" });
  });

  it.each([
    ['{"code": "E_lower", "message": "m"}', /code must be E_/],
    ['{"code": "SSH_AUTH", "message": "m"}', /code must be E_/],
    ['{"code": "E_X", "message": "  "}', /message is empty/],
    ['{"code": "E_X", "message": "m", "retryable": "yes"}', /retryable/],
    [`{"code": "E_X", "message": "${"m".repeat(5000)}"}`, /message/],
    ["[1, 2]", /./],
    ["E_X: not json", /not one line of JSON/],
  ])("ignores %s", (line, why) => {
    const outcome = parseFinalRecord(line);
    expect(outcome.kind).toBe("invalid");
    expect(outcome.kind === "invalid" && outcome.problem).toMatch(why);
  });

  it("reads the last line written, and nothing past 16 KiB", async () => {
    const pipe = new PassThrough();
    const collected = collectFinalRecord(pipe);
    pipe.end('{"code": "E_FIRST", "message": "a"}\n{"code": "E_LAST", "message": "b"}\n\n');
    await new Promise((resolve) => pipe.on("end", resolve).resume());
    expect(collected.outcome()).toMatchObject({ kind: "record", record: { code: "E_LAST" } });

    const flood = new PassThrough();
    const flooded = collectFinalRecord(flood);
    flood.end("x".repeat(20_000));
    await new Promise((resolve) => flood.on("end", resolve).resume());
    expect(flooded.outcome()).toEqual({ kind: "invalid", problem: "more than 16384 bytes on fd 3" });
    expect(collectFinalRecord(undefined).outcome()).toEqual({ kind: "none" });
  });
});
