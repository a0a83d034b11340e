/**
 * ed25519 signatures of job requests (node:crypto). jarvis holds the private key (PKCS#8 PEM);
 * each agent is given only the public key, as one line of base64 (DER SubjectPublicKeyInfo), so
 * it fits in agent.yml.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { AgentError } from "../errors.js";
import type { JobRequest, SignedEnvelope } from "./protocol.js";

/** A fresh key pair: the private key as PEM, the public key as one base64 line. */
export function generateSigningKeys(): { privateKeyPem: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return {
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicKey: publicKey.export({ type: "spki", format: "der" }).toString("base64"),
  };
}

export function loadPrivateKey(pem: string): KeyObject {
  try {
    const key = createPrivateKey(pem);
    if (key.asymmetricKeyType !== "ed25519") throw new Error(`a ${key.asymmetricKeyType} key`);
    return key;
  } catch (err) {
    throw new AgentError(
      "E_SIGNING_KEY",
      `the job signing key is not an ed25519 private key in PEM form (${(err as Error).message}); make one with 'jarvis agent keys DIR'`,
      { cause: err },
    );
  }
}

export function loadPublicKey(base64: string): KeyObject {
  try {
    const key = createPublicKey({ key: Buffer.from(base64, "base64"), format: "der", type: "spki" });
    if (key.asymmetricKeyType !== "ed25519") throw new Error(`a ${key.asymmetricKeyType} key`);
    return key;
  } catch (err) {
    throw new AgentError(
      "E_SIGNING_KEY",
      `jarvis_public_key is not an ed25519 public key (base64 DER): ${(err as Error).message}`,
      { cause: err },
    );
  }
}

export function signRequest(request: JobRequest, key: KeyObject): SignedEnvelope {
  const payload = JSON.stringify(request);
  return { payload, signature: sign(null, Buffer.from(payload), key).toString("base64") };
}

/** True when `signature` is `key`'s signature of exactly `payload`. */
export function verifySignature(payload: string, signature: string, key: KeyObject): boolean {
  return verify(null, Buffer.from(payload), key, Buffer.from(signature, "base64"));
}
