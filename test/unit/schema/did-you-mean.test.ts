import { describe, expect, it } from "vitest";
import { nearest } from "../../../src/schema/did-you-mean.js";

describe("nearest", () => {
  it("finds the key a typo meant", () => {
    expect(nearest("pipeline", ["store", "steps", "pipelines", "engine"])).toBe("pipelines");
    expect(nearest("pth", ["path"])).toBe("path");
    expect(nearest("lease_secs", ["lease_seconds"])).toBe("lease_seconds");
    expect(nearest("onfailure", ["steps", "on_failure"])).toBe("on_failure");
    expect(nearest("Store", ["store"])).toBe("store");
    expect(nearest("stpes", ["steps", "store"])).toBe("steps");
  });

  it("suggests nothing for names unlike any known one", () => {
    expect(nearest("zz", ["path"])).toBeUndefined();
    expect(nearest("frobnicate", ["store", "steps", "pipelines"])).toBeUndefined();
    expect(nearest("x", [])).toBeUndefined();
  });
});
