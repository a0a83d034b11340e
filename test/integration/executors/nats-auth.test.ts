/**
 * jarvis and its workers on a nats-server that wants what a production one does: an NKEY user and
 * mutual TLS. The run's steps go through a worker that authenticates from its own jarvis.yml; a
 * worker with another user's seed is refused, and one whose seed file is missing says which file,
 * both without a seed in what they print.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startNatsServer } from "../servers/nats-server.js";
import { designFor, makeJarvisEnv } from "../../helpers/jarvis-env.js";
import { makeTestPki, natsTlsBlock } from "../../helpers/test-pki.js";
import { newNkeyUser } from "../../../src/nodes/nats-authorization.js";
import { DEADLINE, countLines, exited, spawnWorker } from "./nats-jarvis.js";
import type { NatsServer } from "../servers/nats-server.js";
import type { JarvisEnv } from "../../helpers/jarvis-env.js";

const TEST_TIMEOUT = 300_000;
const stepsUser = newNkeyUser();
const stranger = newNkeyUser();

describe("steps over a nats-server with NKEY users and mutual TLS", () => {
  let server: NatsServer;
  let env: JarvisEnv;
  beforeAll(async () => {
    env = makeJarvisEnv({ pipelines: { p: "steps:\n  - count:first\n" } });
    const pki = makeTestPki(join(env.dir, "pki"));
    server = await startNatsServer({
      config: `${natsTlsBlock(pki)}\nauthorization { users: [ { nkey: ${stepsUser.publicKey} } ] }`,
    });
    writeFileSync(join(env.dir, "steps.nk"), stepsUser.seed, { mode: 0o600 });
    writeFileSync(join(env.dir, "stranger.nk"), stranger.seed, { mode: 0o600 });
    // Relative paths: they are read from the folder of the jarvis.yml that names them.
    const endpoint = (seed: string): string =>
      `executor:\n  nats:\n    url: ${server.url}\n    nkey_seed_file: ${seed}\n    tls: {ca: pki/ca.pem, cert: pki/client.pem, key: pki/client.key}\n`;
    writeFileSync(env.configPath, `${readFileSync(env.configPath, "utf8")}\n${endpoint("steps.nk")}`);
    env.write("stranger.yml", `${readFileSync(env.configPath, "utf8").replace("steps.nk", "stranger.nk")}`);
    env.write("lost.yml", `${readFileSync(env.configPath, "utf8").replace("steps.nk", "lost.nk")}`);
  }, TEST_TIMEOUT);
  afterAll(async () => {
    await server?.stop();
  });

  it(
    "runs a step through a worker that authenticates with its NKEY over TLS",
    async () => {
      const worker = await spawnWorker(env, []);
      try {
        env.write("loki.yml", designFor("loki"));
        expect(await exited(env.spawnCli(["run", "p", "loki.yml"]))).toBe(0);
        expect(countLines(env, "first")).toHaveLength(1);
        expect(worker.ran()).toEqual(["count:first"]);
      } finally {
        await worker.stop();
      }
    },
    TEST_TIMEOUT,
  );

  it(
    "refuses a worker with another user's seed, and names a missing seed file, printing no seed",
    async () => {
      const refused = await env.cli(["worker", "--config", join(env.dir, "stranger.yml")]);
      expect(refused.code).toBe(3);
      expect(refused.stderr).toMatch(
        /refused the NKEY of .*stranger\.nk \(Authorization Violation\); its public key must be a user/,
      );
      const lost = await env.cli(["worker", "--config", join(env.dir, "lost.yml")]);
      expect(lost.code).toBe(3);
      expect(lost.stderr).toMatch(/cannot read the NKEY seed file .*lost\.nk \(ENOENT\)/);
      for (const out of [refused.stderr, lost.stderr, refused.stdout, lost.stdout])
        for (const seed of [stepsUser.seed, stranger.seed]) expect(out).not.toContain(seed);
    },
    DEADLINE,
  );
});
