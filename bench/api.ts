/**
 * The HTTP API under load: GET /runs/{id} latency idle and with 200 runs in flight, and 1,000 SSE
 * followers on one run (from a step event's store time to the last follower receiving it).
 * jarvis and the clients share this process, so the RSS printed is an upper bound for jarvis.
 */
import { buildConfig } from "../src/config.js";
import { openJarvis } from "../src/service.js";
import { startApiServer } from "../src/api/api-server.js";
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { benchDesign, fmt, root } from "./lib.js";

const FOLLOWERS = 1000;
const IN_FLIGHT = 200;

/** Percentile of sorted samples. */
function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

export async function benchApi(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "jarvis-bench-api-"));
  mkdirSync(join(dir, "pipelines"));
  writeFileSync(join(dir, "pipelines", "quick.yml"), "steps:\n  - noop:a\n");
  writeFileSync(join(dir, "pipelines", "held.yml"), "steps:\n  - hold:20\n");
  writeFileSync(join(dir, "pipelines", "watched.yml"), "steps:\n  - gate:open-watched\n  - noop:b\n");
  const config = buildConfig(
    {
      value: {
        store: { path: join(dir, "jarvis.sqlite") },
        steps: { dirs: [join(root, "bench/steps")] },
        pipelines: { dirs: [join(dir, "pipelines")] },
        designs: { dirs: [dir] },
        api: { listen: "127.0.0.1:0" },
      },
      source: "bench",
      lineOf: () => undefined,
    },
    join(dir, "jarvis.yml"),
  );
  const jarvis = await openJarvis(config, { execute: true });
  const api = await startApiServer(jarvis, { log: () => undefined });
  const token = new URL(api.pageUrlWithToken!).searchParams.get("token")!;
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const start = async (pipeline: string, host: string, wait = ""): Promise<string> => {
    const r = await fetch(`${api.url}/runs${wait}`, {
      method: "POST",
      headers,
      body: JSON.stringify({ pipeline, source: benchDesign(dir, host) }),
    });
    return ((await r.json()) as { id: string }).id;
  };
  const latencies = async (id: string, n: number): Promise<number[]> => {
    const samples: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await (await fetch(`${api.url}/runs/${id}`, { headers })).arrayBuffer();
      samples.push(performance.now() - t);
    }
    return samples.sort((a, b) => a - b);
  };
  try {
    const id = await start("quick", "idle", "?wait=60s");
    const idle = await latencies(id, 300);
    console.log(
      `GET /runs/{id} idle                  p50 ${fmt(pct(idle, 50))} ms  p99 ${fmt(pct(idle, 99))} ms`,
    );
    await Promise.all(Array.from({ length: IN_FLIGHT }, (_, i) => start("held", `busy${i}`)));
    const loaded = await latencies(id, 300);
    console.log(
      `GET /runs/{id} with ${IN_FLIGHT} runs in flight  p50 ${fmt(pct(loaded, 50))} ms  p99 ${fmt(pct(loaded, 99))} ms  (goal p99 < 20 ms)`,
    );
    await Promise.all(
      (await jarvis.store.listRuns({ states: ["queued", "running"] })).map((r) =>
        fetch(`${api.url}/runs/${r.id}/cancel`, {
          method: "POST",
          headers: { authorization: headers.authorization },
        }),
      ),
    );

    const watched = await start("watched", "watched");
    const received: number[] = [];
    let stepAt = 0;
    const followers = Array.from({ length: FOLLOWERS }, async () => {
      const response = await fetch(`${api.url}/runs/${watched}/events?format=ndjson`, { headers });
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let nl: number;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          if (!line.trim()) continue;
          const event = JSON.parse(line) as { type: string; at: number; step?: { name: string } };
          if (event.type === "step-started" && event.step?.name === "noop:b") {
            stepAt = event.at;
            received.push(Date.now());
          }
        }
      }
    });
    // Every follower connected first: the figure is the fan-out of one event, not connection setup.
    for (;;) {
      const metrics = await (await fetch(`${api.url}/metrics`, { headers })).text();
      if (new RegExp(`^jarvis_api_event_followers ${FOLLOWERS}$`, "m").test(metrics)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    writeFileSync(join(config.baseDir, "open-watched"), "");
    await Promise.all(followers);
    const last = Math.max(...received);
    const rss = process.memoryUsage().rss / 1024 / 1024;
    console.log(
      `${FOLLOWERS} SSE followers: ${received.length} got the step event, the last ${fmt(last - stepAt)} ms after it  (goal all within 250 ms)`,
    );
    console.log(
      `RSS with ${FOLLOWERS} followers (jarvis + clients) ${fmt(rss)} MB  (goal < 400 MB for jarvis)`,
    );
  } finally {
    await api.close();
    await jarvis.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
