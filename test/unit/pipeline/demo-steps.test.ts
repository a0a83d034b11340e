/**
 * The demo pipeline's steps, spawned for real as the step runner does: clipboard YAML on stdin,
 * the whole new clipboard on stdout, progress on stderr, exit code per the protocol. The Node
 * step runs compiled from dist/, so the project is built first when dist/ is older than src/.
 */
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dumpYaml, parseYamlMapping } from "../../../src/clipboard/yaml.js";
import { createStepCatalog } from "../../../src/pipeline/step-catalog.js";
import { EXIT_RETRYABLE } from "../../../src/protocol.js";

const catalog = createStepCatalog({ stepsDirs: ["steps"] });

const loki = {
  instance: {
    hostname: "loki",
    fqdn: "loki.example.org",
    provider: "linode",
    size: 2048,
    sshpubkey: ["ssh-ed25519 AAAAC3Nza loki@example"],
  },
};

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
  lines: string[];
}

function runStep(
  uses: string,
  input: string,
  options: {
    params?: Record<string, unknown>;
    runId?: string;
    onStderr?: (text: string, kill: () => void) => void;
  } = {},
): Promise<Result> {
  // None of these is a provider step, so the clipboard plays no part in resolving them.
  const cmd = catalog.resolve(uses, {});
  const env = {
    PATH: "/usr/local/bin:/usr/bin:/bin",
    LANG: "C.UTF-8",
    JARVIS_RUN_ID: options.runId ?? "test-run",
    JARVIS_STEP: `${cmd.module}:${cmd.task}`,
    JARVIS_PARAMS: JSON.stringify(options.params ?? {}),
  };
  return new Promise((resolve, reject) => {
    const child = spawn(cmd.command, cmd.args, { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString("utf8");
      options.onStderr?.(stderr, () => child.kill("SIGTERM"));
    });
    child.on("error", reject);
    child.on("close", (code) =>
      resolve({ code, stdout, stderr, lines: stderr.split("\n").filter((l) => l !== "") }),
    );
    // A step may exit without reading its input (an unknown task); that is its answer, not an error.
    child.stdin.on("error", () => undefined);
    child.stdin.end(input);
  });
}

/** stdout must be one YAML mapping: the whole new clipboard. */
function clipboardOf(result: Result): Record<string, unknown> {
  expect(result.stderr === "" || result.code === 0, result.stderr).toBe(true);
  return parseYamlMapping(result.stdout, "step stdout").value;
}

let stateDir: string;

beforeAll(() => {
  stateDir = mkdtempSync(join(tmpdir(), "jarvis-demo-state-"));
  const compiled = "dist/src/workers/demo.js";
  const sources = [
    "src/workers/demo.ts",
    "src/step-sdk/define-step.ts",
    "src/clipboard/yaml.ts",
    "src/protocol.ts",
  ];
  const stale =
    !existsSync(compiled) || sources.some((s) => statSync(s).mtimeMs > statSync(compiled).mtimeMs);
  if (stale) {
    try {
      execFileSync("npx", ["tsc", "-p", "."], { stdio: "ignore", timeout: 300_000 });
    } catch {
      // Other files in progress may not type-check; tsc still emits, which is all this needs.
    }
  }
  expect(existsSync(compiled), `${compiled} missing: run npx tsc -p .`).toBe(true);
}, 300_000);

afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

describe("demo (built-in Node step)", () => {
  it("greet writes demo.greeting for the design's host and keeps the rest", async () => {
    const r = await runStep("demo:greet", dumpYaml(loki));
    expect(r.code).toBe(0);
    const out = clipboardOf(r);
    expect(out.instance).toEqual(loki.instance);
    const demo = out.demo as Record<string, unknown>;
    expect(demo.greeting).toBe("hello loki");
    expect(new Date(String(demo.at)).toISOString()).toBe(demo.at);
    expect(r.lines).toEqual(["greeting loki"]);
  });

  it("greet keeps what earlier demo steps wrote", async () => {
    const r = await runStep("demo:greet", dumpYaml({ ...loki, demo: { flaky: { attempts: 2 } } }));
    expect(clipboardOf(r).demo).toMatchObject({ flaky: { attempts: 2 }, greeting: "hello loki" });
  });

  it("flaky fails retryably (exit 75) for the first `failures` attempts, per run, then succeeds", async () => {
    const params = { failures: 2, state_dir: stateDir };
    const first = await runStep("demo:flaky", dumpYaml(loki), { params, runId: "run-a" });
    expect(first.code).toBe(EXIT_RETRYABLE);
    expect(first.stdout).toBe("");
    expect(first.lines.at(-1)).toMatch(/^flaky: attempt 1 fails on purpose/);
    // Another run counts its own attempts.
    expect((await runStep("demo:flaky", dumpYaml(loki), { params, runId: "run-b" })).lines.at(-1)).toMatch(
      /attempt 1 fails/,
    );
    expect((await runStep("demo:flaky", dumpYaml(loki), { params, runId: "run-a" })).code).toBe(
      EXIT_RETRYABLE,
    );
    const third = await runStep("demo:flaky", dumpYaml(loki), { params, runId: "run-a" });
    expect(third.code).toBe(0);
    expect(clipboardOf(third)).toEqual({ ...loki, demo: { flaky: { attempts: 3 } } });
    // Success clears the count, so the state dir does not fill up.
    expect(readdirSync(stateDir).filter((f) => f.includes("run-a"))).toEqual([]);
  });

  it("flaky with failures: 0 succeeds at once", async () => {
    const r = await runStep("demo:flaky", "", {
      params: { failures: 0, state_dir: stateDir },
      runId: "run-c",
    });
    expect(r.code).toBe(0);
    expect(clipboardOf(r)).toEqual({ demo: { flaky: { attempts: 1 } } });
  });

  it("slow waits, logging once a second", async () => {
    const r = await runStep("demo:slow", dumpYaml(loki), { params: { seconds: 1 } });
    expect(r.code).toBe(0);
    expect(r.lines).toEqual(["slow: 1 of 1 s"]);
    expect(clipboardOf(r).demo).toEqual({ slow: { seconds: 1 } });
  });

  it("slow stops with an error when jarvis sends SIGTERM", async () => {
    let killed = false;
    const r = await runStep("demo:slow", dumpYaml(loki), {
      params: { seconds: 60 },
      onStderr: (text, kill) => {
        if (!killed && text.includes("slow: 1 of 60 s")) {
          killed = true;
          kill();
        }
      },
    });
    expect(killed).toBe(true);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.lines.at(-1)).toMatch(/^slow: stopped after \d+\.\d s of 60 s$/);
  });

  it("fail fails for good (exit 1) with with.message as the last stderr line", async () => {
    const r = await runStep("demo:fail", dumpYaml(loki), { params: { message: "the disk is on fire" } });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.lines.at(-1)).toBe("the disk is on fire");
    expect((await runStep("demo:fail", "")).lines.at(-1)).toMatch(/demo:fail fails on purpose/);
  });

  it("bad parameters fail naming the parameter", async () => {
    const r = await runStep("demo:slow", "", { params: { seconds: "ten" } });
    expect(r.code).toBe(1);
    expect(r.lines.at(-1)).toBe('demo:slow: with.seconds must be a number of at least 0, got "ten"');
  });
});

describe("hello (POSIX shell step)", () => {
  it("appends a hello section and keeps the whole clipboard", async () => {
    const r = await runStep("hello:greet", dumpYaml(loki));
    expect(r.code).toBe(0);
    expect(clipboardOf(r)).toEqual({
      ...loki,
      hello: { greeting: "hello loki", from: "sh", step: "hello:greet", keys_before: 1 },
    });
    expect(r.lines).toEqual(["greeting loki"]);
  });

  it("replaces an earlier hello section instead of repeating the key", async () => {
    const once = await runStep("hello:greet", dumpYaml(loki));
    const twice = await runStep("hello:greet", once.stdout);
    expect(twice.code).toBe(0);
    expect(clipboardOf(twice)).toEqual(clipboardOf(once));
    // An old hello of any shape, in the middle of the document, with a compact list under it.
    const odd = 'instance:\n  hostname: loki\nhello:\n- old\n- # note\n  stale\n"after": 1\n';
    const r = await runStep("hello:greet", odd);
    expect(clipboardOf(r)).toEqual({
      instance: { hostname: "loki" },
      after: 1,
      hello: { greeting: "hello loki", from: "sh", step: "hello:greet", keys_before: 2 },
    });
  });

  it("passes awkward clipboards through unchanged", async () => {
    const awkward = {
      instance: {
        hostname: "o'brien",
        hello: "a nested hello stays",
        notes: "line one\nline two\n  indented\n",
      },
      "key with: colon": ["a", { hello: 1 }],
      unicode: "größe ✓",
      quoted: "no",
      numberish: "0777",
      empty: {},
      list: [],
      nothing: null,
    };
    const r = await runStep("hello:greet", dumpYaml(awkward));
    const out = clipboardOf(r);
    expect(out.hello).toMatchObject({ greeting: "hello o'brien" });
    delete out.hello;
    expect(out).toEqual(awkward);
  });

  it("an empty clipboard gets only the hello section", async () => {
    const r = await runStep("hello:greet", "");
    expect(clipboardOf(r)).toEqual({
      hello: { greeting: "hello world", from: "sh", step: "hello:greet", keys_before: 0 },
    });
  });

  it("refuses what it cannot edit safely, with a clear last line", async () => {
    const flow = await runStep("hello:greet", "{instance: {hostname: loki}}\n");
    expect(flow.code).toBe(1);
    expect(flow.stdout).toBe("");
    expect(flow.lines.at(-1)).toBe("hello: the clipboard is in flow style ({...}); expected a block mapping");
    const unknown = await runStep("hello:wave", dumpYaml(loki));
    expect(unknown.code).toBe(64);
    expect(unknown.lines.at(-1)).toBe("hello: unknown task 'wave'; this module offers: greet");
  });
});

describe("pyfacts (Python step)", () => {
  it("adds pyfacts with the Python version and the number of top-level keys", async () => {
    const r = await runStep("pyfacts:collect", dumpYaml({ ...loki, demo: { greeting: "hello loki" } }));
    expect(r.code).toBe(0);
    const out = clipboardOf(r);
    const facts = out.pyfacts as Record<string, unknown>;
    expect(facts.keys).toBe(2);
    expect(facts.python).toMatch(/^3\.\d+\.\d+/);
    delete out.pyfacts;
    expect(out).toEqual({ ...loki, demo: { greeting: "hello loki" } });
    expect(r.lines.at(-1)).toMatch(/^pyfacts: python 3\.\d+\.\d+, 2 top-level keys$/);
  });

  it("round-trips YAML 1.2 values that PyYAML's 1.1 rules would change", async () => {
    const tricky = {
      strings: [
        "yes",
        "no",
        "on",
        "off",
        "y",
        "0777",
        "0o17",
        "0x1f",
        "1e3",
        "2024-01-01",
        "~",
        "null",
        "true",
        "",
        "12:30",
        "<<",
        "=",
        "größe",
      ],
      numbers: [0, -5, 511, 15, 31, 1.5, 1e20, 0.001],
      flags: [true, false, null],
      nested: { "<<": { a: 1 }, multi: "one\ntwo\n", date: "2024-01-01T00:00:00Z" },
    };
    const r = await runStep("pyfacts:collect", dumpYaml(tricky));
    expect(r.code).toBe(0);
    const out = clipboardOf(r);
    delete out.pyfacts;
    expect(out).toEqual(tricky);
    // Unquoted YAML 1.2 scalars read as 1.2 says, not as 1.1 would.
    const plain = await runStep("pyfacts:collect", "country: no\nmode: 0777\nwhen: 2024-01-01\nhex: 0x1f\n");
    const facts = clipboardOf(plain);
    expect(facts).toMatchObject({ country: "no", mode: 777, when: "2024-01-01", hex: 31 });
  });

  it("refuses a clipboard that is not a mapping", async () => {
    const r = await runStep("pyfacts:collect", "- a\n- b\n");
    expect(r.code).toBe(1);
    expect(r.lines.at(-1)).toBe("pyfacts: the clipboard must be a mapping, got a list");
  });
});
