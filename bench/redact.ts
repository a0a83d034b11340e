/**
 * Masking secrets: a 100 KB base64 token (once 24-30 s, when the secret values were one
 * alternation regex and the key patterns backtracked) and a 5 MB clipboard printed as YAML, next
 * to the floor: a plain indexOf/replaceAll scan of the same text for the same secrets.
 */
import { randomBytes } from "node:crypto";
import { createRedactor } from "../src/clipboard/redact.js";
import { DEFAULT_REDACT_KEYS } from "../src/config.js";
import { dumpYaml } from "../src/clipboard/yaml.js";
import { median, report } from "./lib.js";

const RUNS = 5;

function time(fn: () => unknown): number {
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    fn();
    samples.push(performance.now() - start);
  }
  return median(samples);
}

/** The floor: one replaceAll per secret, which is what masking known values at least costs. */
function floorScan(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) if (out.includes(s)) out = out.replaceAll(s, "***");
  return out;
}

/** Run the redaction benchmark and print its figures. */
export async function benchRedact(): Promise<void> {
  const token = randomBytes(75_000).toString("base64");
  const clipboard = { blob: { api_token: token }, copy: token, instance: { root_password: "hunter22-x" } };
  const redactor = createRedactor({ keys: DEFAULT_REDACT_KEYS }).learn(clipboard);
  const tokenText = dumpYaml(clipboard);
  const secrets = [...redactor.secrets];
  report(
    "mask a 100 KB token (YAML text)",
    time(() => redactor.text(tokenText)),
    time(() => floorScan(tokenText, secrets)),
    "ms",
    "close to 1x",
  );
  report(
    "mask a 100 KB token (clipboard value)",
    time(() => redactor.value(clipboard)),
    time(() => floorScan(tokenText, secrets)),
    "ms",
    "linear",
  );

  const inventory: Record<string, unknown> = {};
  for (let i = 0; i < 50_000; i++)
    inventory[`pkg${i}`] = {
      version: `1.${i}.0`,
      arch: "amd64",
      description: "a package of the host's inventory",
    };
  const big = { instance: { hostname: "bigloki", root_password: "s3cret-root-pw" }, inventory };
  const bigText = dumpYaml(big);
  const bigRedactor = createRedactor({ keys: DEFAULT_REDACT_KEYS }).learn(big);
  const bigSecrets = [...bigRedactor.secrets];
  console.log(`clipboard of ${(Buffer.byteLength(bigText) / 1024 / 1024).toFixed(1)} MB`);
  report(
    "mask a 5 MB clipboard (YAML text)",
    time(() => bigRedactor.text(bigText)),
    time(() => floorScan(bigText, bigSecrets)),
    "ms",
    "a few x",
  );
  report(
    "mask a 5 MB clipboard (value, as `clipboard` does)",
    time(() => bigRedactor.value(big)),
    time(() => floorScan(bigText, bigSecrets)),
    "ms",
    "linear",
  );
  return Promise.resolve();
}
