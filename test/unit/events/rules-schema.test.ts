import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { buildConfig } from "../../../src/config.js";
import { parseYamlMapping } from "../../../src/clipboard/yaml.js";
import { ConfigError } from "../../../src/errors.js";
import { eventMatches, nodeMatches } from "../../../src/events/rule-match.js";
import type { NodeView } from "../../../src/inventory/node-view.js";

const FILE = "/etc/jarvis/jarvis.yml";
const load = (text: string) => buildConfig(parseYamlMapping(text, FILE), FILE, {});
const refused = (text: string): string => {
  try {
    load(text);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message;
  }
  throw new Error("accepted");
};

const RULE = [
  "rules:",
  "  - name: nginx-changed",
  '    on: {event: file_changed, path: "/etc/nginx/*", where: "group=web"}',
  "    run: reconfigure",
  "    debounce: 30s",
  '    announce: ["irc:#ops"]',
].join("\n");

function node(host: string, groups: string[]): NodeView {
  return { host, groups, online: true, lastSeen: 1, agentVersion: "1", facts: {} };
}

describe("rules: in jarvis.yml", () => {
  it("reads a rule: its event, globs, selector, pipeline, debounce and rooms", () => {
    const [rule] = load(RULE).rules;
    expect(rule).toMatchObject({
      name: "nginx-changed",
      event: "file_changed",
      pipeline: "reconfigure",
      debounceMs: 30_000,
      announce: ["irc:#ops"],
      source: undefined,
    });
    const event = { id: "e-00000001", host: "web-1", kind: "file_changed", at: 1, data: {} };
    expect(eventMatches(rule!, { ...event, data: { path: "/etc/nginx/sites-enabled/default" } })).toBe(true);
    expect(eventMatches(rule!, { ...event, data: { path: "/etc/apache2/apache2.conf" } })).toBe(false);
    expect(eventMatches(rule!, { ...event, kind: "service_down", data: { path: "/etc/nginx/x" } })).toBe(
      false,
    );
    expect(nodeMatches(rule!, node("web-1", ["web"]))).toBe(true);
    expect(nodeMatches(rule!, node("db-1", ["db"]))).toBe(false);
    // A node jarvis knows nothing of yet is not in any group.
    expect(nodeMatches(rule!, undefined)).toBe(false);
  });

  it("matches data globs on other fields", () => {
    const [rule] = load(
      "rules:\n  - name: down\n    on: {event: service_down, data: {probe: 'ngin*'}}\n    run: reconfigure\n",
    ).rules;
    const event = { id: "e-00000001", host: "web-1", kind: "service_down", at: 1 };
    expect(eventMatches(rule!, { ...event, data: { probe: "nginx" } })).toBe(true);
    expect(eventMatches(rule!, { ...event, data: { probe: "postgres" } })).toBe(false);
    expect(eventMatches(rule!, { ...event, data: {} })).toBe(false);
    expect(rule!.debounceMs).toBe(30_000);
  });

  it("refuses an unknown key in a rule with its file and line, and the nearest known key", () => {
    expect(refused(RULE.replace("    run: reconfigure", "    runn: reconfigure"))).toMatch(
      /^\/etc\/jarvis\/jarvis\.yml:4: unknown key 'rules\.0\.runn'.*run/,
    );
    expect(refused(RULE.replace("event: file_changed,", "event: file_changed, pth: x,"))).toMatch(
      /^\/etc\/jarvis\/jarvis\.yml:3: unknown key 'rules\.0\.on\.pth'/,
    );
  });

  it("refuses a bad selector, duration, room or a name used twice, with the line", () => {
    expect(refused(RULE.replace('where: "group=web"', 'where: "group=="'))).toMatch(
      /^\/etc\/jarvis\/jarvis\.yml:3: where: selector: .*column 7/,
    );
    expect(refused(RULE.replace("debounce: 30s", "debounce: soon"))).toMatch(
      /^\/etc\/jarvis\/jarvis\.yml:5: debounce: 'soon' is not a duration/,
    );
    expect(refused(RULE.replace('["irc:#ops"]', '["#ops"]'))).toMatch(
      /^\/etc\/jarvis\/jarvis\.yml:6: .*must be a room as <network>:<room>/,
    );
    expect(refused(`${RULE}\n${RULE.replace("rules:\n", "")}`)).toMatch(
      /^\/etc\/jarvis\/jarvis\.yml:7: rule name 'nginx-changed' is used twice/,
    );
  });

  it("loads the rules example of docs/agents.md as written", () => {
    const doc = readFileSync(new URL("../../../docs/agents.md", import.meta.url), "utf8");
    const example = /```yaml\n(rules:\n[\s\S]*?)```/.exec(doc)?.[1];
    expect(example).toBeDefined();
    const config = load(example!);
    expect(config.rules.map((r) => [r.name, r.pipeline, r.debounceMs])).toEqual([
      ["nginx-changed", "reconfigure", 30_000],
      ["nginx-down", "reconfigure", 600_000],
    ]);
  });
});
