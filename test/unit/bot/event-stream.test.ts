import { describe, expect, it } from "vitest";
import { EventStream } from "../../../src/bot/event-stream.js";

describe("EventStream", () => {
  it("delivers to listeners and iterators, and ends iterators on close without bothering listeners", async () => {
    const stream = new EventStream<number>();
    const heard: number[] = [];
    stream.on((v) => heard.push(v));
    const read = (async () => {
      const got: number[] = [];
      for await (const v of stream) got.push(v);
      return got;
    })();
    await Promise.resolve();
    stream.emit(1);
    stream.emit(2);
    stream.close();
    stream.emit(3);
    expect(await read).toEqual([1, 2]);
    expect(heard).toEqual([1, 2]);
  });
});
