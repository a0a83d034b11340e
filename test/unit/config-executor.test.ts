import { describe, expect, it } from "vitest";
import { buildConfig } from "../../src/config.js";
import { parseYamlMapping } from "../../src/clipboard/yaml.js";
import { ConfigError } from "../../src/errors.js";

const FILE = "/etc/jarvis/jarvis.yml";
const load = (text: string) => buildConfig(parseYamlMapping(text, FILE), FILE, {});

describe("executor: where steps run", () => {
  it("is the local fork unless NATS is named", () => {
    expect(load("engine:\n  lease_seconds: 5\n").executor).toEqual({ kind: "local" });
    expect(load("executor:\n  nats:\n    url: nats://10.0.0.5:4222\n").executor).toEqual({
      kind: "nats",
      bus: { url: "nats://10.0.0.5:4222" },
    });
  });

  it("takes an NKEY seed file and TLS files, relative to jarvis.yml's folder; replicas use them too", () => {
    const config = load(
      "executor:\n  nats:\n    url: tls://bus:4222\n    nkey_seed_file: jarvis.nk\n    tls: {ca: /pki/ca.pem, cert: client.pem, key: client.key}\n",
    );
    const bus = {
      url: "tls://bus:4222",
      nkeySeedFile: "/etc/jarvis/jarvis.nk",
      tls: { ca: "/pki/ca.pem", cert: "/etc/jarvis/client.pem", key: "/etc/jarvis/client.key" },
    };
    expect(config.executor).toEqual({ kind: "nats", bus });
    expect(config.cluster?.bus).toEqual(bus);
  });

  it("refuses a URL that is not nats:// or tls://, and unknown keys, with their line", () => {
    const refused = (text: string): string => {
      try {
        load(text);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as ConfigError).message;
      }
      throw new Error("accepted");
    };
    expect(refused("executor:\n  nats:\n    url: http://x\n")).toBe(
      `${FILE}:3: executor.nats.url must be a nats:// or tls:// URL`,
    );
    expect(refused("executor:\n  nats:\n    url: nats://x\n    urll: y\n")).toMatch(
      /^\/etc\/jarvis\/jarvis\.yml:4: unknown key 'executor\.nats\.urll'/,
    );
  });
});
