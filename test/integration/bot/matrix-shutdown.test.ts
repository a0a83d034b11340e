/**
 * `jarvis start` with Matrix configured stops promptly on SIGTERM even when the homeserver holds
 * every /sync forever, a fault no real Synapse can be made to show (its long-poll ends after 30 s),
 * so this file uses the home-made homeserver. Before the fix the SDK's pending /sync kept the
 * process alive until the request's own 40 s timeout.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeJarvisEnv } from "../../helpers/jarvis-env.js";
import { startHomeserver } from "../servers/matrix-homeserver.js";
import type { Homeserver } from "../servers/matrix-homeserver.js";
import { stopJarvisStart } from "./matrix-start.js";

let hs: Homeserver;

beforeAll(async () => {
  hs = await startHomeserver({ holdSync: true });
  process.stdout.write(`matrix shutdown test: using ${hs.description}, holding every /sync\n`);
});

afterAll(async () => {
  await hs?.close();
});

describe("jarvis start on Matrix, homeserver holding /sync forever", () => {
  it("exits on SIGTERM, having closed the adapter, the engine and the store", async () => {
    const env = makeJarvisEnv({
      extraConfig: `
chat:
  nick: jarvis
  matrix:
    homeserver: ${hs.url}
    access_token: \${TEST_MATRIX_TOKEN}
    state_dir: matrix-state
`,
    });
    const stopped = await stopJarvisStart(env, await hs.register("jarvis"), () => hs.heldSyncs() > 0);
    process.stdout.write(`matrix shutdown test: jarvis start exited ${stopped.ms} ms after SIGTERM\n`);
    expect(stopped).toMatchObject({ code: 0, signal: null });
    expect(stopped.stderr).toMatch(/^jarvis: closed matrix$/m);
    expect(stopped.stderr).toMatch(/^jarvis: closed the engine and the store/m);
    expect(stopped.stderr).not.toMatch(/exiting now/);
  });
});
