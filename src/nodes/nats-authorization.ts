/**
 * The `authorization` block of nats-server's configuration for jarvis and its agents (NKEY users):
 * jarvis may do everything; each agent only what agentPermissions() says. Used by agent:install,
 * the tests and the bench, and shown in docs/agents.md.
 */
import { createUser } from "@nats-io/nkeys";
import { agentPermissions } from "../agent/protocol.js";

export interface NkeyUser {
  publicKey: string;
  seed: string;
}

export function newNkeyUser(): NkeyUser {
  const kp = createUser();
  return { publicKey: kp.getPublicKey(), seed: new TextDecoder().decode(kp.getSeed()) };
}

/**
 * `agents`: node name -> the agent's NKEY public key. `timeoutS`: how long a client may take to
 * authenticate (nats-server's default, 2 s, is short for a thousand agents reconnecting at once).
 */
export function natsAuthorization(
  jarvisPublicKey: string,
  agents: ReadonlyMap<string, string>,
  timeoutS = 10,
): string {
  const list = (subjects: string[]): string => `[${subjects.map((s) => JSON.stringify(s)).join(", ")}]`;
  const users = [`    { nkey: ${jarvisPublicKey} }`];
  for (const [host, key] of agents) {
    const p = agentPermissions(host);
    users.push(
      `    { nkey: ${key}, permissions: { publish: { allow: ${list(p.publish)} }, subscribe: { allow: ${list(p.subscribe)} } } }`,
    );
  }
  return `authorization {\n  timeout: ${timeoutS}\n  users = [\n${users.join(",\n")}\n  ]\n}\n`;
}
