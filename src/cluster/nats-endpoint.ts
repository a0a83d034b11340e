/**
 * How jarvis's own processes (the NATS executor, workers, replicas) reach nats-server: the URL,
 * and when the server asks for them an NKEY (jarvis.yml names the seed file, never the seed) and
 * TLS files. The same settings the agents' connection takes (agents.nats), so one nats-server
 * configured once serves both.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { nkeyAuthenticator } from "@nats-io/nats-core";
import { z } from "zod";
import { BusError } from "../errors.js";
import type { ConnectionOptions } from "@nats-io/nats-core";

/** TLS to nats-server: the CA that signed its certificate, and a client certificate if it verifies clients. */
export const natsTlsSchema = z.strictObject({
  ca: z.string({ error: "must be the path of the CA certificate that signed nats-server's" }),
  cert: z.string({ error: "must be the path of a client certificate" }).optional(),
  key: z.string({ error: "must be the path of the client certificate's key" }).optional(),
});

/** `executor.nats` and `cluster.nats` in jarvis.yml. */
export const natsEndpointSchema = z.strictObject({
  url: z
    .string({ error: "must be a nats:// or tls:// URL" })
    .regex(/^(nats|tls):\/\/\S+$/, { error: "must be a nats:// or tls:// URL" }),
  nkey_seed_file: z.string({ error: "must be the path of an NKEY seed file" }).optional(),
  tls: natsTlsSchema.optional(),
});

/** TLS files, as absolute paths. */
export interface NatsTls {
  ca: string;
  cert?: string;
  key?: string;
}

/** Where and as whom to connect. */
export interface NatsEndpoint {
  url: string;
  /** Absolute path of the NKEY seed file, when nats-server authenticates by NKEY. */
  nkeySeedFile?: string;
  tls?: NatsTls;
}

/** TLS paths from jarvis.yml, resolved against its folder. */
export function natsTlsFrom(tls: z.output<typeof natsTlsSchema>, baseDir: string): NatsTls {
  return {
    ca: resolve(baseDir, tls.ca),
    ...(tls.cert ? { cert: resolve(baseDir, tls.cert) } : {}),
    ...(tls.key ? { key: resolve(baseDir, tls.key) } : {}),
  };
}

/** An endpoint from jarvis.yml, its paths resolved against its folder. */
export function natsEndpointFrom(c: z.output<typeof natsEndpointSchema>, baseDir: string): NatsEndpoint {
  return {
    url: c.url,
    ...(c.nkey_seed_file ? { nkeySeedFile: resolve(baseDir, c.nkey_seed_file) } : {}),
    ...(c.tls ? { tls: natsTlsFrom(c.tls, baseDir) } : {}),
  };
}

/** The connection options of `endpoint` beyond the URL: its NKEY authenticator and TLS files. */
export function natsCredentials(endpoint: NatsEndpoint): Pick<ConnectionOptions, "authenticator" | "tls"> {
  const options: Pick<ConnectionOptions, "authenticator" | "tls"> = {};
  if (endpoint.nkeySeedFile !== undefined) {
    let seed: string;
    try {
      seed = readFileSync(endpoint.nkeySeedFile, "utf8").trim();
    } catch (err) {
      throw new BusError(
        "E_BUS_KEYS",
        `cannot read the NKEY seed file ${endpoint.nkeySeedFile} (${(err as NodeJS.ErrnoException).code ?? "unreadable"}); nkey_seed_file must name a readable seed (nsc or nk -gen user)`,
        { cause: err },
      );
    }
    options.authenticator = nkeyAuthenticator(new TextEncoder().encode(seed));
  }
  if (endpoint.tls)
    options.tls = { caFile: endpoint.tls.ca, certFile: endpoint.tls.cert, keyFile: endpoint.tls.key };
  return options;
}
