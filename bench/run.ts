/**
 * `npm run bench`: every benchmark, figures printed next to their floor and goal. Nothing here is
 * asserted: these machines are noisy, so figures are for people to read and compare.
 * Pass names to run a subset: `npm run bench -- steps concurrency clipboard chat redact hosts api nats agents store`.
 */
import { benchStepOverhead } from "./step-overhead.js";
import { benchConcurrency } from "./concurrency.js";
import { benchClipboardSize } from "./clipboard-size.js";
import { benchChatRoundTrip } from "./chat-roundtrip.js";
import { benchRedact } from "./redact.js";
import { benchApi } from "./api.js";
import { benchHosts } from "./hosts.js";
import { benchNatsWorkers } from "./nats-workers.js";
import { benchAgentFanout } from "./agent-fanout.js";
import { benchStore } from "./store.js";

const benches: Record<string, () => Promise<void>> = {
  steps: benchStepOverhead,
  concurrency: benchConcurrency,
  clipboard: benchClipboardSize,
  chat: benchChatRoundTrip,
  redact: benchRedact,
  api: benchApi,
  hosts: benchHosts,
  nats: benchNatsWorkers,
  agents: benchAgentFanout,
  store: benchStore,
};

const wanted = process.argv.slice(2);
for (const [name, bench] of Object.entries(benches)) {
  if (wanted.length && !wanted.includes(name)) continue;
  console.log(`\n== ${name}`);
  await bench();
}
