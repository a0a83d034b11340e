/**
 * The security model on a real nats-server: agents refuse unsigned, forged, expired and replayed
 * requests and say so; NATS permissions keep one agent from reading another's requests or
 * answering in its name.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstream } from "@nats-io/jetstream";
import type { Msg } from "@nats-io/transport-node";
import { eventually } from "../../helpers/net.js";
import { generateSigningKeys, loadPrivateKey, signRequest } from "../../../src/agent/signing.js";
import { AgentReply, subjects } from "../../../src/agent/protocol.js";
import type { JobRequest } from "../../../src/agent/protocol.js";
import { startFleet } from "./fleet.js";
import type { Fleet } from "./fleet.js";

let fleet: Fleet;
const replies: AgentReply[] = [];

beforeAll(async () => {
  fleet = await startFleet({
    hosts: ["web-1", "web-2"],
    agentYml: () =>
      "facts: {system: false}\nallow: {operations: [ping, execute, cancel], commands: ['sleep *', 'echo *']}",
  });
  fleet.nc.subscribe(subjects.reply("web-1"), {
    callback: (_err, msg) => void replies.push(AgentReply.parse(JSON.parse(msg.string()))),
  });
  await eventually(
    async () => ((await fleet.store.nodes.list()).filter((n) => n.online).length === 2 ? true : undefined),
    60_000,
    "both agents online",
  );
});
afterAll(async () => fleet?.close());

function request(overrides: Partial<JobRequest> = {}): JobRequest {
  return {
    id: randomUUID(),
    jobId: "test",
    target: "web-1",
    issuedAt: Date.now(),
    ttlMs: 60_000,
    timeoutMs: 10_000,
    operation: { kind: "ping" },
    ...overrides,
  };
}

async function publish(envelope: unknown, msgID = randomUUID()): Promise<void> {
  await fleet.bus.ensureNodeConsumer("web-1");
  await jetstream(fleet.nc).publish(subjects.request("web-1"), JSON.stringify(envelope), { msgID });
}

async function refusalOf(id: string): Promise<Extract<AgentReply, { kind: "refusal" }>> {
  return eventually(
    () =>
      replies.find(
        (r): r is Extract<AgentReply, { kind: "refusal" }> => r.kind === "refusal" && r.requestId === id,
      ),
    60_000,
    `refusal of ${id}`,
  );
}

describe("an agent", () => {
  it("refuses an unsigned request", async () => {
    const r = request();
    await publish({ payload: JSON.stringify(r) });
    expect((await refusalOf(r.id)).reason).toBe("unsigned");
  });

  it("refuses a request signed by another key, and one altered after signing", async () => {
    const other = loadPrivateKey(generateSigningKeys().privateKeyPem);
    const forged = request();
    await publish(signRequest(forged, other));
    expect((await refusalOf(forged.id)).reason).toBe("forged");

    const altered = request({ operation: { kind: "execute", command: "echo hi" } });
    const signed = signRequest(altered, loadPrivateKey(fleet.signing.privateKeyPem));
    await publish({ ...signed, payload: signed.payload.replace("echo hi", "echo pwned") });
    expect((await refusalOf(altered.id)).reason).toBe("forged");
  });

  it("refuses an expired request, and the job's node ends expired", async () => {
    const r = request({ issuedAt: Date.now() - 120_000 });
    await publish(signRequest(r, loadPrivateKey(fleet.signing.privateKeyPem)));
    expect((await refusalOf(r.id)).reason).toBe("expired");
  });

  it("runs a request once and refuses it when it is replayed", async () => {
    const r = request();
    const signed = signRequest(r, loadPrivateKey(fleet.signing.privateKeyPem));
    await publish(signed);
    await eventually(
      () => replies.find((x) => x.kind === "result" && x.requestId === r.id),
      60_000,
      "the first result",
    );
    await publish(signed); // a new stream message: a replay, not a redelivery
    expect((await refusalOf(r.id)).reason).toBe("replayed");
    expect(replies.filter((x) => x.kind === "result" && x.requestId === r.id)).toHaveLength(1);
  });

  it("refuses a command outside its allow list", async () => {
    const job = await fleet.controller.submit({
      operation: { kind: "execute", command: "rm -rf /tmp/nothing" },
      hosts: ["web-1"],
      targets: { words: ["web-1"] },
      options: { timeoutMs: 10_000, ttlMs: 60_000 },
      requester: "test",
    });
    await fleet.controller.waitDone(job.id);
    const { nodes } = await fleet.controller.get(job.id);
    expect(nodes[0]).toMatchObject({
      state: "failed",
      message: expect.stringMatching(/^refused \(not-allowed\)/),
    });
  });
});

describe("NATS permissions", () => {
  it("keep an agent from reading another agent's requests", async () => {
    const web2 = await fleet.connectAs("web-2");
    const errors: string[] = [];
    const seen: Msg[] = [];
    web2.subscribe(subjects.deliver("web-1"), {
      callback: (err, msg) => void (err ? errors.push(err.message) : seen.push(msg)),
    });
    web2.subscribe(subjects.request("web-1"), {
      callback: (err, msg) => void (err ? errors.push(err.message) : seen.push(msg)),
    });
    const job = await fleet.controller.submit({
      operation: { kind: "ping" },
      hosts: ["web-1"],
      targets: { words: ["web-1"] },
      options: { timeoutMs: 10_000, ttlMs: 60_000 },
      requester: "test",
    });
    expect((await fleet.controller.waitDone(job.id)).state).toBe("done");
    await eventually(() => (errors.length === 2 ? true : undefined), 30_000, "two subscription refusals");
    expect(errors.join("\n")).toMatch(/permissions violation/i);
    expect(seen).toHaveLength(0);
    await web2.close();
  });

  it("keep an agent from answering in another agent's name", async () => {
    const job = await fleet.controller.submit({
      operation: { kind: "execute", command: "sleep 3" },
      hosts: ["web-1"],
      targets: { words: ["web-1"] },
      options: { timeoutMs: 30_000, ttlMs: 60_000 },
      requester: "test",
    });
    const { nodes } = await fleet.controller.get(job.id);
    const requestId = nodes[0]!.requestId;
    const fake = JSON.stringify({
      kind: "result",
      requestId,
      at: Date.now(),
      state: "failed",
      exitCode: 99,
      stdoutTail: "",
      stderrTail: "",
      message: "impersonated",
    });
    const web2 = await fleet.connectAs("web-2");
    const statusErrors: string[] = [];
    void (async () => {
      for await (const s of web2.status()) if (s.type === "error") statusErrors.push(s.error.message);
    })();
    web2.publish(subjects.reply("web-1"), fake); // denied by the server
    web2.publish(subjects.reply("web-2"), fake); // allowed, but not web-1's subject: jarvis ignores it
    await web2.flush();
    await eventually(() => (statusErrors.length > 0 ? true : undefined), 30_000, "a publish refusal");
    expect(statusErrors.join("\n")).toMatch(/permissions violation for publish/i);
    await fleet.controller.waitDone(job.id);
    const after = await fleet.controller.get(job.id);
    expect(after.nodes[0]).toMatchObject({ state: "changed", exitCode: 0 });
    await web2.close();
  });
});
