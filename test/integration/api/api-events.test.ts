/**
 * Following a run over the API: SSE resumed with Last-Event-ID mid-run loses and repeats nothing,
 * NDJSON carries the same events, and a client that never reads is dropped past the high-water
 * mark while others are served to the end.
 */
import { connect } from "node:net";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { designFor } from "../../helpers/jarvis-env.js";
import { eventually } from "../../helpers/net.js";
import { startApiJarvis } from "../../helpers/api-jarvis.js";
import type { ApiJarvis } from "../../helpers/api-jarvis.js";

let jarvis: ApiJarvis;

beforeAll(async () => {
  jarvis = await startApiJarvis({
    pipelines: {
      paused: "steps:\n  - ok:first\n  - gate:open-resume\n  - sleepy:0\n",
      flood: "steps:\n  - gate:open-flood\n  - chatty-count:20000\n",
    },
  });
  mkdirSync(join(jarvis.env.dir, "designs"));
  for (const host of ["loki", "thor"])
    writeFileSync(join(jarvis.env.dir, "designs", `${host}.yml`), designFor(host));
}, 120_000);

afterAll(async () => {
  await jarvis?.stop();
});

/** Read SSE frames until `stop` says so (or the stream ends); the ids and event types seen. */
async function readSse(
  response: Response,
  stop: (type: string) => boolean,
): Promise<{ ids: number[]; types: string[] }> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  const ids: number[] = [];
  const types: string[] = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const id = /^id: (\d+)$/m.exec(frame)?.[1];
      const type = /^event: (.+)$/m.exec(frame)?.[1];
      if (id === undefined || type === undefined) continue;
      ids.push(Number(id));
      types.push(type);
      if (stop(type)) {
        await reader.cancel();
        return { ids, types };
      }
    }
  }
  return { ids, types };
}

const start = async (pipeline: string, source: string): Promise<string> => {
  const response = await jarvis.call("/runs", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ pipeline, source }),
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { id: string }).id;
};

describe("HTTP API: run events", () => {
  it("resumes SSE from Last-Event-ID mid-run with no event lost or repeated; NDJSON is the same feed", async () => {
    const id = await start("paused", "loki.yml");
    const first = await readSse(await jarvis.call(`/runs/${id}/events`), (type) => type === "step-log");
    // The run now waits at its gate: resume from the last event seen, then let it go on.
    await eventually(async () => {
      const run = (await (await jarvis.call(`/runs/${id}`)).json()) as { step: { name: string } };
      return run.step.name === "gate:open-resume" ? true : undefined;
    });
    const resumed = jarvis.call(`/runs/${id}/events`, {
      headers: { "last-event-id": String(first.ids.at(-1)) },
    });
    const rest = readSse(await resumed, () => false);
    writeFileSync(join(jarvis.env.dir, "open-resume"), "");
    const second = await rest;
    expect(second.types.at(-1)).toBe("run-finished");
    const all = [...first.ids, ...second.ids];
    expect(new Set(all).size).toBe(all.length);
    expect(all).toEqual([...all].sort((a, b) => a - b));

    const ndjson = await (await jarvis.call(`/runs/${id}/events?format=ndjson`)).text();
    const seqs = ndjson
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => (JSON.parse(l) as { seq: number }).seq);
    expect(seqs).toEqual(all);
  }, 120_000);

  it("drops a client that never reads past the high-water mark, while another follows to the end", async () => {
    const id = await start("flood", "thor.yml");
    // A raw client that asks for the stream and then never reads a byte.
    const slow = connect(Number(new URL(jarvis.url).port), "127.0.0.1");
    slow.pause();
    slow.write(`GET /runs/${id}/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${jarvis.token}\r\n\r\n`);
    const fast = jarvis.call(`/runs/${id}/events`);
    await eventually(async () => {
      const metrics = await (await jarvis.call("/metrics")).text();
      return /^jarvis_api_event_followers 2$/m.test(metrics) ? true : undefined;
    });
    const following = readSse(await fast, () => false);
    writeFileSync(join(jarvis.env.dir, "open-flood"), "");
    const seen = await following;
    expect(seen.types.at(-1)).toBe("run-finished");
    expect(seen.types.filter((t) => t === "step-log").length).toBeGreaterThanOrEqual(20_000);
    // The slow one was let go instead of buffered: nobody follows any more, and the server answers.
    await eventually(async () => {
      const metrics = await (await jarvis.call("/metrics")).text();
      return /^jarvis_api_event_followers 0$/m.test(metrics) ? true : undefined;
    });
    expect((await jarvis.call(`/runs/${id}`)).status).toBe(200);
    // What the slow client had been sent stops short of the end: it was cut off, not waited for.
    let received = "";
    slow.on("data", (chunk: Buffer) => void (received += chunk.toString()));
    const closed = new Promise((resolve) => slow.once("close", resolve));
    slow.on("error", () => undefined);
    slow.resume();
    await closed;
    expect(received).toContain("event: step-log");
    expect(received).not.toContain("event: run-finished");
  }, 180_000);
});
