/**
 * The probe inputs of issue 9 through the real CLI: every path a command reads (validate,
 * step --clipboard, run, retry --clipboard, --config, a pipeline path) refuses devices, a FIFO,
 * a directory, a missing file and a symlink loop with exit 3 or 4 and a typed message (never
 * exit 10, never a hang); deep conditions, huge lists and control bytes are refused or escaped;
 * cluster designs validate; one design size limit holds for validate, step and run alike.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { designFor, makeJarvisEnv, repoRoot } from "../../helpers/jarvis-env.js";
import type { JarvisEnv } from "../../helpers/jarvis-env.js";
import { cliInProcess } from "./in-process-cli.js";
import type { CliResult } from "./in-process-cli.js";

let env: JarvisEnv;
let bad: Record<string, string>;
// Raw control bytes (other than newline and tab) and bidi controls that must never be printed.
const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

beforeAll(() => {
  env = makeJarvisEnv({ pipelines: { one: "steps:\n  - demo:greet\n" } });
  mkdirSync(join(env.dir, "folder"));
  execFileSync("mkfifo", [join(env.dir, "fifo.yml")]);
  symlinkSync(join(env.dir, "loop-b.yml"), join(env.dir, "loop-a.yml"));
  symlinkSync(join(env.dir, "loop-a.yml"), join(env.dir, "loop-b.yml"));
  bad = {
    "/dev/zero": "E_SOURCE_NOT_A_FILE",
    "/dev/urandom": "E_SOURCE_NOT_A_FILE",
    [join(env.dir, "fifo.yml")]: "E_SOURCE_NOT_A_FILE",
    [join(env.dir, "folder")]: "E_SOURCE_NOT_A_FILE",
    [join(env.dir, "missing.yml")]: "E_SOURCE_NOT_FOUND",
    [join(env.dir, "loop-a.yml")]: "E_SOURCE_UNREADABLE",
  };
});

const exitFor = (code: string): number => (code === "E_SOURCE_NOT_FOUND" ? 4 : 3);

/** `jarvis args...`, in this process unless `spawned` (then through the real binary). */
async function cli(args: string[], spawned = false): Promise<CliResult> {
  if (spawned) return env.cli(args);
  const [name = "", ...rest] = args;
  return cliInProcess(env, name, rest);
}

async function expectRefused(
  args: string[],
  exit: number,
  message?: RegExp,
  spawned = false,
): Promise<string> {
  const result = await cli(args, spawned);
  expect(result.code, `${args.join(" ")}: ${result.stderr}`).toBe(exit);
  expect(result.stderr + result.stdout).not.toMatch(RAW);
  if (message) expect(result.stderr).toMatch(message);
  return result.stderr;
}

describe("every path jarvis reads goes through the bounded reader", () => {
  it("validate, step --clipboard and run refuse devices, a FIFO, a directory, a missing file and a loop", async () => {
    for (const [path, code] of Object.entries(bad)) {
      const exit = exitFor(code);
      const what = /does not exist|not a regular file|is a directory|symbolic link that loops/;
      await expectRefused(["validate", path], exit, what);
      await expectRefused(["step", "demo:greet", "--clipboard", path], exit, what);
      await expectRefused(["run", "one", path], exit, what);
    }
    // The same through the real binary, whose own error printing and exit codes are the contract.
    await expectRefused(["validate", "/dev/zero"], 3, /not a regular file/, true);
    await expectRefused(
      ["step", "demo:greet", "--clipboard", join(env.dir, "fifo.yml")],
      3,
      /not a regular file/,
      true,
    );
  }, 240_000);

  it("retry --clipboard, --config and a pipeline path refuse them too", async () => {
    const design = env.write("fails.yml", designFor("fenrir"));
    env.write("pipelines/broken.yml", "steps:\n  - uses: demo:fail\n    with: {message: no}\n");
    expect((await cli(["run", "broken", design])).code).toBe(1);
    for (const [path, code] of Object.entries(bad))
      await expectRefused(["retry", "fenrir", "--clipboard", path], exitFor(code));
    await expectRefused(["--config", "/dev/urandom", "status"], 3, /not a regular file/, true);
    await expectRefused(["--config", join(env.dir, "folder"), "status"], 3, /is a directory/, true);
    await expectRefused(["run", join(env.dir, "fifo.yml"), design], 3, /fifo\.yml:1: .*not a regular file/);
    await expectRefused(["run", join(env.dir, "loop-a.yml"), design], 4, /no pipeline/);
  }, 240_000);
});

describe("recursive parsers and lists have limits", () => {
  const pipelineWithIf = (expr: string): string =>
    env.write("deep.yml", `steps:\n  - uses: demo:greet\n    if: "${expr}"\n`);

  it("refuses an if nested 100,000 deep, a 1 MB run of '!' and 65 levels, with exit 3", async () => {
    for (const expr of [
      `${"(".repeat(100_000)}true${")".repeat(100_000)}`,
      "!".repeat(1024 * 1024 - 100),
      `${"!".repeat(65)}true`,
    ]) {
      await expectRefused(
        ["validate", pipelineWithIf(expr)],
        3,
        /deep\.yml:3: steps item 1 if: .*(limit|nested)/,
      );
    }
  }, 120_000);

  it("refuses a pipeline of 10,000 steps and a cluster of 100,000 hosts", async () => {
    const pipeline = env.write("long.yml", `steps:\n${"  - demo:greet\n".repeat(10_000)}`);
    await expectRefused(["validate", pipeline], 3, /'steps' has 10000 steps, over the limit of 1000/);
    const hosts = Array.from({ length: 100_000 }, (_, i) => `  - {hostname: h${i}}\n`).join("");
    const cluster = env.write("huge-cluster.yml", `instances:\n${hosts}`);
    await expectRefused(["validate", cluster], 3, /instances lists 100000 hosts, over the limit of 100/);
  }, 120_000);
});

describe("control bytes and bidi controls", () => {
  it("are escaped in every error message, never written raw", async () => {
    const designs = [
      'instance:\n  hostname: "lo\\eki\\a\\r\\0"\n',
      'instance:\n  hostname: loki\n  size: "\\e]0;pwned\\a\\e[2J"\n',
      'instance:\n  hostname: loki\n  "\\e[31mred": 1\n  fqdn: "\\u200eloki.example.test"\n',
      'instance:\n  hostname: loki\n  sshpubkey: "\\e[1Assh-ed25519 AAAA"\n',
      'instances:\n  - hostname: "db\\e[0m"\n',
      'instances:\n  - {hostname: db, after: "\\u202eweb\\u2066"}\n',
    ];
    for (const [i, text] of designs.entries()) {
      const file = env.write(`ctl-${i}.yml`, text);
      const stderr = await expectRefused(["validate", file], 3);
      expect(stderr, text).toMatch(/\\x1b|\\x07|\\u202e|\\x0d|\\x00|bidirectional text control/);
      await expectRefused(["run", "one", file], 3);
    }
    const pipeline = env.write("ctl-pipeline.yml", 'steps:\n  - uses: demo:greet\n    if: "\\e[2J =="\n');
    expect(await expectRefused(["validate", pipeline], 3)).toContain("\\x1b[2J");
    expect(await expectRefused(["run", "one", "\u001b[2Jnope.yml"], 4)).toContain("\\x1b[2Jnope.yml");
    // Through the real binary: main.ts escapes what it prints.
    const spawned = await expectRefused(
      ["validate", env.write("ctl-spawned.yml", designs[0]!)],
      3,
      undefined,
      true,
    );
    expect(spawned).toContain("'lo\\x1bki\\x07\\x0d\\x00'");
  }, 120_000);

  it("refuses bidi controls in design keys and fields", async () => {
    const file = env.write("bidi.yml", 'instance:\n  hostname: loki\n"own\\u202eer": ops\n');
    await expectRefused(["validate", file], 3, /bidirectional text control/);
  });
});

describe("cluster designs and the one size limit", () => {
  it("validates the cluster example of docs/providers.md as the run would take it", async () => {
    const docs = readFileSync(join(repoRoot, "docs/providers.md"), "utf8");
    const example = /## Clusters[\s\S]*?```yaml\n([\s\S]*?)```/.exec(docs)?.[1];
    expect(example).toBeDefined();
    const result = await cli(["validate", env.write("cluster.yml", example!)]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/cluster design of 3 hosts is valid \(in order: db, web1, web2\)/);
    await expectRefused(
      [
        "validate",
        env.write("cycle.yml", "instances:\n  - {hostname: a, after: b}\n  - {hostname: b, after: a}\n"),
      ],
      3,
      /cycle/,
    );
  });

  it("takes a design over 1 MiB in validate, step and run alike, and refuses it in all three under designs.max_bytes", async () => {
    // Over 1 MiB in comments: the size is what matters, and the clipboard stays small to run.
    const big = env.write("big.yml", `${designFor("bigloki")}${`# ${"x".repeat(98)}\n`.repeat(11_300)}`);
    expect((await cli(["validate", big])).code).toBe(0);
    expect((await cli(["step", "demo:greet", "--clipboard", big])).code).toBe(0);
    const run = await cli(["run", "one", big]);
    expect(run.code, run.stderr).toBe(0);
    const small = makeJarvisEnv({ extraConfig: "designs:\n  max_bytes: 1000\n" });
    const cases: [string, string[]][] = [
      ["validate", [big]],
      ["step", ["demo:greet", "--clipboard", big]],
      ["run", ["demo", big]],
    ];
    for (const [name, args] of cases) {
      const result = await cliInProcess(small, name, args);
      expect(result.code, name).toBe(3);
      expect(result.stderr).toMatch(
        /over the (design|clipboard|design or pipeline) file size limit of 1000 bytes/,
      );
    }
  }, 300_000);
});
