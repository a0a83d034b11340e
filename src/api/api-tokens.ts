/**
 * Who a request comes from: `Authorization: Bearer <secret>` (or `?token=` for the page's first
 * link and EventSource, which cannot set headers) against `api.tokens`, each token an identity
 * `api:<name>`. With no tokens configured, one local operator token is made on first start and
 * kept under the state directory (mode 0600). Secrets are compared as SHA-256 digests with
 * timingSafeEqual, every configured token every time, so neither a prefix nor which token matched
 * shows in the response time.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ConfigError } from "../errors.js";
import { expandEnv } from "../config.js";
import type { JarvisConfig } from "../config.js";

/** Identity of the local operator token on the API (the audit trail shows it as such). */
export const LOCAL_API_IDENTITY = "api:local-operator";

/** Who a valid token names. */
export interface ApiPrincipal {
  identity: string;
  /** The machine's local operator (the token jarvis made itself): everything allowed, like the CLI. */
  localOperator: boolean;
}

/** The tokens the server accepts. */
export interface ApiTokens {
  /** The principal whose token this is, or undefined. */
  authenticate(secret: string): ApiPrincipal | undefined;
  /** The local operator token's file, when jarvis made one (no tokens configured). */
  localTokenFile: string | undefined;
  /** The local operator token itself, to print the page's address once at start. */
  localToken: string | undefined;
}

interface KnownToken {
  digest: Buffer;
  principal: ApiPrincipal;
}

/** Where the local operator token is kept: next to the store, or under .state/ for a memory store. */
export function localTokenPath(config: JarvisConfig): string {
  const stateDir =
    config.store.path === ":memory:" ? join(config.baseDir, ".state") : dirname(config.store.path);
  return join(stateDir, "api-token");
}

/** Read `api.tokens` (expanding `${VAR}`), or make/read the local operator token. */
export function loadApiTokens(config: JarvisConfig, env: NodeJS.ProcessEnv = process.env): ApiTokens {
  if (!config.api.enabled) throw new Error("loadApiTokens: the API is off (api: false)");
  const known: KnownToken[] = [];
  for (const [name, written] of config.api.tokens) {
    const secret = expandEnv(written, env, `${config.file ?? "jarvis.yml"}: api.tokens.${name}`);
    if (secret.length < 16) {
      throw new ConfigError(
        "E_CONFIG_FIELD",
        `api.tokens.${name}: the secret is shorter than 16 characters; use a long random one`,
      );
    }
    known.push({ digest: digest(secret), principal: { identity: `api:${name}`, localOperator: false } });
  }
  let localTokenFile: string | undefined;
  let localToken: string | undefined;
  if (known.length === 0) {
    localTokenFile = localTokenPath(config);
    localToken = readOrMakeLocalToken(localTokenFile);
    known.push({
      digest: digest(localToken),
      principal: { identity: LOCAL_API_IDENTITY, localOperator: true },
    });
  }
  return {
    localTokenFile,
    localToken,
    authenticate(secret) {
      const given = digest(secret);
      let found: ApiPrincipal | undefined;
      for (const token of known) if (timingSafeEqual(token.digest, given)) found ??= token.principal;
      return found;
    },
  };
}

function digest(secret: string): Buffer {
  return createHash("sha256").update(secret, "utf8").digest();
}

function readOrMakeLocalToken(file: string): string {
  if (existsSync(file)) {
    // A token file others can read is a token others have: refuse it rather than serve with it.
    if ((statSync(file).mode & 0o077) !== 0) {
      throw new ConfigError(
        "E_CONFIG_TOKEN_FILE",
        `${file} is readable by others; run: chmod 600 ${file} (or delete it to make a new token)`,
      );
    }
    const token = readFileSync(file, "utf8").trim();
    if (token.length >= 32) return token;
  }
  mkdirSync(dirname(file), { recursive: true });
  const token = randomBytes(32).toString("base64url");
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return token;
}
