import { describe, expect, it } from "vitest";
import { ChatError } from "../../../src/errors.js";
import { Outbox, cutText, fitBytes } from "../../../src/bot/outbox.js";
import type { ChatPlace } from "../../../src/bot/chat-adapter.js";

const room: ChatPlace = { room: "#ops", direct: false };

describe("cutText", () => {
  it("cuts long lines at a character boundary within the byte limit", () => {
    const cut = fitBytes("ü".repeat(100), 21);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(21);
    expect(cut.endsWith("…")).toBe(true);
    expect(cut).toBe(`${"ü".repeat(9)}…`);
  });

  it("cuts too many lines and says how many more and where to look", () => {
    const lines = cutText(
      Array.from({ length: 20 }, (_, i) => `line ${i}`).join("\n"),
      100,
      5,
      "full log: jarvis log loki on the CLI",
    );
    expect(lines).toHaveLength(5);
    expect(lines.slice(0, 4)).toEqual(["line 0", "line 1", "line 2", "line 3"]);
    expect(lines[4]).toBe("… (16 more lines; full log: jarvis log loki on the CLI)");
  });

  it("drops control characters and blank lines, keeps short text as is", () => {
    expect(cutText("a\u0007b\r\n\n c", 100, 5)).toEqual(["ab", " c"]);
    expect(cutText("ok", 100, 5)).toEqual(["ok"]);
  });
});

describe("Outbox", () => {
  it("queues while disconnected and sends everything in order after reconnecting", async () => {
    const wire: string[] = [];
    let up = false;
    const box = new Outbox({
      maxLineBytes: 100,
      maxLines: 10,
      multiline: false,
      burst: 100,
      intervalMs: 0,
      transmit: async (_place, payload) => {
        if (!up) throw new ChatError("E_CHAT_DISCONNECTED", "down", { retryable: true });
        wire.push(payload);
      },
    });
    const sent = [box.send(room, "one\ntwo"), box.send(room, "three")];
    await new Promise((r) => setTimeout(r, 20));
    expect(wire).toEqual([]);
    expect(box.pending).toBe(3);
    up = true;
    box.setConnected(true);
    await Promise.all(sent);
    expect(wire).toEqual(["one", "two", "three"]);
  });

  it("keeps a message whose send failed mid-flight and sends it after the connection returns", async () => {
    const wire: string[] = [];
    let failNext = true;
    const box = new Outbox({
      maxLineBytes: 100,
      maxLines: 10,
      multiline: false,
      burst: 100,
      intervalMs: 0,
      transmit: async (_place, payload) => {
        if (failNext) {
          failNext = false;
          throw new Error("socket closed");
        }
        wire.push(payload);
      },
    });
    box.setConnected(true);
    await box.send(room, "a\nb");
    expect(wire).toEqual(["a", "b"]);
  });

  it("paces lines after a burst", async () => {
    const times: number[] = [];
    const box = new Outbox({
      maxLineBytes: 100,
      maxLines: 10,
      multiline: false,
      burst: 2,
      intervalMs: 30,
      transmit: async () => void times.push(Date.now()),
    });
    box.setConnected(true);
    await box.send(room, "1\n2\n3\n4");
    expect(times).toHaveLength(4);
    // The 4th line waited for two refills: never all at once.
    expect(times[3]! - times[0]!).toBeGreaterThanOrEqual(50);
  });

  it("sends multi-line networks one message, and rejects a message the network refuses for good", async () => {
    const wire: string[] = [];
    const box = new Outbox({
      maxLineBytes: 1000,
      maxLines: 10,
      multiline: true,
      burst: 10,
      intervalMs: 0,
      transmit: async (place, payload) => {
        if (place.room === "!gone") throw new ChatError("E_CHAT_SEND", "not in room");
        wire.push(payload);
      },
    });
    box.setConnected(true);
    await expect(box.send({ room: "!gone", direct: false }, "x")).rejects.toThrow("not in room");
    await box.send(room, "a\nb");
    expect(wire).toEqual(["a\nb"]);
  });

  it("rejects what is still queued when closed", async () => {
    const box = new Outbox({
      maxLineBytes: 100,
      maxLines: 10,
      multiline: false,
      burst: 1,
      intervalMs: 0,
      transmit: async () => undefined,
    });
    const pending = box.send(room, "never");
    box.close();
    await expect(pending).rejects.toMatchObject({ code: "E_CHAT_CLOSED" });
  });
});
