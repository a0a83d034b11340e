import { describe, expect, it } from "vitest";
import { LineThrottle } from "../../../src/bot/line-throttle.js";

describe("LineThrottle", () => {
  it("passes the first lines of a window and summarises the rest when the window closes", () => {
    const throttle = new LineThrottle(3, 1000);
    const sent: string[] = [];
    for (let i = 1; i <= 10_000; i++) sent.push(...throttle.offer(`line ${i}`, 0));
    expect(sent).toEqual(["line 1", "line 2", "line 3"]);
    expect(throttle.flush(999)).toEqual([]);
    expect(throttle.flush(1000)).toEqual(["... 9997 lines"]);
    expect(throttle.flush(5000)).toEqual([]);
  });

  it("says the summary before the first line of the next window, and at the end when forced", () => {
    const throttle = new LineThrottle(1, 1000);
    expect(throttle.offer("a", 0)).toEqual(["a"]);
    expect(throttle.offer("b", 10)).toEqual([]);
    expect(throttle.offer("c", 1500)).toEqual(["... 1 line", "c"]);
    expect(throttle.offer("d", 1600)).toEqual([]);
    expect(throttle.offer("e", 1700)).toEqual([]);
    expect(throttle.pending).toBe(2);
    expect(throttle.flush(1800, true)).toEqual(["... 2 lines"]);
    expect(throttle.flush(1800, true)).toEqual([]);
  });
});
