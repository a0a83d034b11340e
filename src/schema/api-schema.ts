/**
 * jarvis.yml's `api:` section: where the HTTP API listens, its TLS files, its tokens and how large
 * a request body may be. Absent: on, at 127.0.0.1:8642, with a local operator token made on first
 * start; `api: false`: off. Token secrets are usually `${ENV}` references, expanded only when the
 * server starts (src/api/api-tokens.ts), so `jarvis validate` needs no secrets.
 */
import { z } from "zod";

/** Where the API listens unless jarvis.yml says otherwise. */
export const DEFAULT_API_LISTEN = "127.0.0.1:8642";
/** Largest request body accepted unless `api.body_limit` says otherwise: designs go by reference. */
export const DEFAULT_API_BODY_LIMIT = 1024 * 1024;

const LISTEN = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):([0-9]{1,5})$/;
const TOKEN_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** The API settings as jarvis uses them. */
export type ApiSettings =
  | { enabled: false }
  | {
      enabled: true;
      host: string;
      port: number;
      tls: { cert: string; key: string } | undefined;
      /** Token name -> secret as written (`${VAR}` not yet expanded); empty: a local operator token. */
      tokens: ReadonlyMap<string, string>;
      bodyLimit: number;
    };

const listen = z.string({ error: "must be host:port, e.g. 127.0.0.1:8642" }).refine(
  (value) => {
    const m = LISTEN.exec(value);
    return m !== null && Number(m[3]) <= 65535;
  },
  { error: "must be host:port with a port up to 65535, e.g. 127.0.0.1:8642" },
);

const apiSection = z.strictObject({
  listen: listen.optional(),
  tls: z
    .strictObject({
      cert: z.string({ error: "must be the path of a PEM certificate file" }),
      key: z.string({ error: "must be the path of a PEM private key file" }),
    })
    .optional(),
  tokens: z
    .record(
      z.string().regex(TOKEN_NAME, { error: "token names are lowercase letters, digits, - and _" }),
      // Its length is checked once `${VAR}` is expanded (api-tokens.ts), at start.
      z.string({ error: "must be the token's secret, usually ${VARIABLE}" }),
      { error: "must be a mapping of token names to secrets" },
    )
    .optional(),
  body_limit: z
    .int({ error: "must be a whole number of bytes" })
    .positive({ error: "must be a whole number of bytes" })
    .optional(),
});

/** `api:` as written: absent/null (default on), `false` (off) or the section. */
export const apiSchema = z.union([z.literal(false), apiSection.nullish()], {
  error: "must be false (off) or a mapping with listen, tls, tokens, body_limit",
});

/** The section as checked, with the defaults filled in. */
export function apiSettings(
  section: z.output<typeof apiSchema>,
  resolvePath: (path: string) => string,
): ApiSettings {
  if (section === false) return { enabled: false };
  const m = LISTEN.exec(section?.listen ?? DEFAULT_API_LISTEN)!;
  return {
    enabled: true,
    host: m[1] ?? m[2]!,
    port: Number(m[3]),
    tls: section?.tls
      ? { cert: resolvePath(section.tls.cert), key: resolvePath(section.tls.key) }
      : undefined,
    tokens: new Map(Object.entries(section?.tokens ?? {})),
    bodyLimit: section?.body_limit ?? DEFAULT_API_BODY_LIMIT,
  };
}
