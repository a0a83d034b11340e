/**
 * Which homeserver the Matrix tests talk to: a real Synapse 1.67.0 from its source tarball when
 * there is one (JARVIS_SYNAPSE_TARBALL, which .ci/run sets, else ../shared/vendor/ beside the
 * repository), or else the home-made server, so a clone without that folder still runs the suite.
 * The choice is made when a test file loads, so its describe() title can say which one it used.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { repoRoot } from "../../helpers/jarvis-env.js";
import { startHomeserver } from "./matrix-homeserver.js";
import { startSynapse } from "./synapse.js";

/** A homeserver for server name `localhost` on a loopback port. */
export interface MatrixTestServer {
  /** Which server this is, in words for the test output. */
  readonly description: string;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** Make a user `@<localpart>:localhost`; resolves to its access token. */
  register(localpart: string): Promise<string>;
  /** Stop answering (connections refused) until start(); what it stored is kept. */
  stop(): Promise<void>;
  /** Answer again on the same port. */
  start(): Promise<void>;
  close(): Promise<void>;
}

/** The Synapse tarball the tests use, or why they cannot. */
export type MatrixServerChoice =
  { kind: "synapse"; tarball: string; description: string } | { kind: "home-made"; description: string };

const DEFAULT_TARBALL = resolve(repoRoot, "../shared/vendor/synapse-1.67.0.tar.gz");

/** Pick the server; a JARVIS_SYNAPSE_TARBALL that names no file is an error, not a fallback. */
export function chooseMatrixServer(): MatrixServerChoice {
  const configured = process.env.JARVIS_SYNAPSE_TARBALL;
  if (configured) {
    if (!existsSync(configured)) {
      throw new Error(`JARVIS_SYNAPSE_TARBALL=${configured}: no such file`);
    }
    return { kind: "synapse", tarball: configured, description: `Synapse 1.67.0 from ${configured}` };
  }
  if (existsSync(DEFAULT_TARBALL)) {
    return {
      kind: "synapse",
      tarball: DEFAULT_TARBALL,
      description: `Synapse 1.67.0 from ${DEFAULT_TARBALL}`,
    };
  }
  return {
    kind: "home-made",
    description:
      `the home-made homeserver, NOT Synapse: no ${DEFAULT_TARBALL} ` +
      `(set JARVIS_SYNAPSE_TARBALL to synapse-1.67.0.tar.gz to test against Synapse)`,
  };
}

/** Start the chosen server and say in the test output which one it is. */
export async function startMatrixServer(choice: MatrixServerChoice): Promise<MatrixTestServer> {
  const server = choice.kind === "synapse" ? await startSynapse(choice.tarball) : await startHomeserver();
  process.stdout.write(`matrix tests: using ${choice.description}\n`);
  return server;
}
