// Bounded retry and polling (src/providers/retry.ts); delays are tiny, counts are what is checked.
import { describe, expect, it } from "vitest";
import { numberParam, pollUntil, scrub, withRetry } from "../../../src/providers/retry.js";
import { ProviderError, ThrottledError } from "../../../src/errors.js";

const policy = { attempts: 3, baseMs: 1, maxMs: 5 };
const signal = new AbortController().signal;

describe("withRetry", () => {
  it("retries retryable provider errors up to the bound, then reports them still retryable", async () => {
    let calls = 0;
    const lines: string[] = [];
    const err = await withRetry(
      "op",
      async () => {
        calls++;
        throw new ThrottledError("E_PROVIDER_THROTTLED", "slow down", 1);
      },
      policy,
      signal,
      (l) => lines.push(l),
    ).catch((e: unknown) => e);
    expect(calls).toBe(3);
    expect(lines).toHaveLength(2);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).retryable).toBe(true);
    expect((err as ProviderError).message).toBe(
      "slow down (gave up on op after 3 attempts; the step can be retried)",
    );
  });

  it("passes non-retryable errors through at once, and returns a later success", async () => {
    let calls = 0;
    const refused = await withRetry(
      "op",
      async () => {
        calls++;
        throw new ProviderError("E_PROVIDER_AUTH", "bad token");
      },
      policy,
      signal,
      () => {},
    ).catch((e: unknown) => e);
    expect(calls).toBe(1);
    expect((refused as ProviderError).code).toBe("E_PROVIDER_AUTH");
    let n = 0;
    const value = await withRetry(
      "op",
      async () => {
        if (++n < 3) throw new ProviderError("E_PROVIDER_UNAVAILABLE", "503", { retryable: true });
        return "done";
      },
      policy,
      signal,
      () => {},
    );
    expect(value).toBe("done");
  });

  it("stops waiting when the step is told to stop", async () => {
    const controller = new AbortController();
    controller.abort(new Error("SIGTERM"));
    const err = await withRetry(
      "op",
      async () => {
        throw new ProviderError("E_PROVIDER_UNAVAILABLE", "503", { retryable: true });
      },
      { attempts: 5, baseMs: 60_000, maxMs: 60_000 },
      controller.signal,
      () => {},
    ).catch((e: unknown) => e);
    expect((err as ProviderError).code).toBe("E_PROVIDER_ABORTED");
  });
});

describe("pollUntil", () => {
  it("returns the first value, and times out as a retryable error", async () => {
    let n = 0;
    expect(
      await pollUntil(
        "ready",
        async () => (++n >= 3 ? n : undefined),
        { timeoutMs: 10_000, pollMs: 1, maxMs: 2 },
        signal,
      ),
    ).toBe(3);
    const err = await pollUntil(
      "never",
      async () => undefined,
      { timeoutMs: 20, pollMs: 1, maxMs: 4 },
      signal,
    ).catch((e: unknown) => e);
    expect((err as ProviderError).code).toBe("E_PROVIDER_WAIT_TIMEOUT");
    expect((err as ProviderError).retryable).toBe(true);
  });
});

describe("scrub and numberParam", () => {
  it("removes secrets and signatures from messages", () => {
    const out = scrub(
      "token s3cr3t-token failed; Authorization: Bearer abc123 Credential=AKIA/x Signature=ff00",
      ["s3cr3t-token"],
    );
    expect(out).not.toContain("s3cr3t-token");
    expect(out).not.toContain("abc123");
    expect(out).not.toContain("AKIA");
    expect(out).not.toContain("ff00");
  });

  it("reads numbers and names a bad parameter", () => {
    expect(numberParam({ a: "12" }, "a", 1)).toBe(12);
    expect(numberParam({}, "a", 7)).toBe(7);
    expect(() => numberParam({ a: "x" }, "a", 1)).toThrow(/parameter a must be a number >= 0, got "x"/);
  });
});
