/**
 * The selector language (issue 11, "Search and targeting"): comparisons of a node's facts or groups
 * joined by `and`, `or`, `not` and parentheses, e.g.
 * `os.family=debian and packages.apache2<2.4.50`, `group=web`, `hostname=web-*`,
 * `memory.mb>=2048`, `not datacenter=atlanta`. A bare host name or glob stands for the node's
 * name (`web-*` is `host=web-*`), and hosts side by side are a list (`web-1 db-*`: either), so a
 * job's targets, however written, are read by this one parser. A list binds tighter than `not`,
 * `and` tighter than `or`; `not` tighter than both. Values are bare words (`*` and `?` glob in `=` and `!=`) or "double-quoted" strings
 * (matched literally, backslash escapes `\"` and `\\`). Selectors come from chat, the CLI, the API
 * and pipelines, so parsing is bounded in length and depth and every error names its column.
 */
import { SelectorError, errorMessage } from "../errors.js";
import { parseDebianVersion } from "./debian-version.js";

/** Longest selector accepted, in characters (a chat command is at most 1024 bytes). */
export const MAX_SELECTOR_LENGTH = 1024;
/** Deepest nesting of parentheses and `not` accepted. */
export const MAX_SELECTOR_DEPTH = 32;

export type ComparisonOperator = "=" | "!=" | "<" | "<=" | ">" | ">=";

/**
 * What a comparison reads: the node's groups, its name in the node directory, whether its agent is
 * online, or a fact by its dotted path (`packages.apache2`, `os.family`).
 */
export type SelectorField =
  { kind: "group" } | { kind: "host" } | { kind: "online" } | { kind: "fact"; path: string[] };

/** A value as written: `number` when the word reads as one (`2048`, `-1.5`). */
export interface SelectorValue {
  text: string;
  /** Quoted values are matched literally: `*` and `?` are not globs there. */
  quoted: boolean;
  number: number | undefined;
}

export type Selector =
  | { kind: "and" | "or"; terms: Selector[] }
  | { kind: "not"; term: Selector }
  /** Bare host names or globs side by side (`web-1 db-*`): a node named by any of them. */
  | { kind: "hosts"; patterns: HostPattern[] }
  | { kind: "compare"; field: SelectorField; op: ComparisonOperator; value: SelectorValue; column: number };

/** One bare word of a host list, with its column for errors about it. */
export interface HostPattern {
  text: string;
  column: number;
}

type Token =
  | { kind: "word"; text: string; column: number }
  | { kind: "string"; text: string; column: number }
  | { kind: "op"; op: ComparisonOperator; column: number }
  | { kind: "open" | "close"; column: number }
  | { kind: "end"; column: number };

const OPERATORS: readonly ComparisonOperator[] = ["!=", "<=", ">=", "=", "<", ">"];
const KEYWORDS = new Set(["and", "or", "not"]);
/** Characters that end a bare word. */
const WORD_END = /[\s()"=!<>]/u;
const NUMBER = /^-?[0-9]+(\.[0-9]+)?$/;
const PATH_SEGMENT = /^[A-Za-z0-9_+\-:@]+$/;
/** What a bare host word may hold: a host name's characters and the globs `*` and `?`. */
const HOST_PATTERN = /^[A-Za-z0-9_*?][A-Za-z0-9_.*?-]*$/;
/** Field names of the node itself: never a bare host word (`group web` is a missing operator). */
const NODE_FIELDS = new Set(["group", "host", "online"]);

/** Parse a selector; throws SelectorError naming the column of the first problem. */
export function parseSelector(text: string): Selector {
  if (text.length > MAX_SELECTOR_LENGTH) {
    throw new SelectorError(
      "E_SELECTOR_LIMIT",
      `too long (${text.length} characters, limit ${MAX_SELECTOR_LENGTH}); select by a group instead of listing hosts`,
      MAX_SELECTOR_LENGTH + 1,
    );
  }
  const parser = new Parser(tokenize(text));
  const selector = parser.parseOr(0);
  const next = parser.peek();
  if (next.kind !== "end") {
    throw new SelectorError(
      "E_SELECTOR_SYNTAX",
      `expected 'and', 'or' or the end, found ${describe(next)}`,
      next.column,
    );
  }
  return selector;
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    const column = i + 1;
    if (/\s/u.test(ch)) {
      i++;
    } else if (ch === "(" || ch === ")") {
      tokens.push({ kind: ch === "(" ? "open" : "close", column });
      i++;
    } else if (ch === '"') {
      let value = "";
      i++;
      for (;;) {
        if (i >= text.length)
          throw new SelectorError("E_SELECTOR_SYNTAX", "unterminated quoted value", column);
        const c = text[i]!;
        if (c === '"') break;
        if (c === "\\" && i + 1 < text.length) {
          value += text[i + 1];
          i += 2;
        } else {
          value += c;
          i++;
        }
      }
      i++;
      tokens.push({ kind: "string", text: value, column });
    } else {
      const op = OPERATORS.find((o) => text.startsWith(o, i));
      if (op) {
        tokens.push({ kind: "op", op, column });
        i += op.length;
      } else if (ch === "!") {
        throw new SelectorError("E_SELECTOR_SYNTAX", "'!' must be followed by '=' (or write 'not')", column);
      } else {
        let end = i;
        while (end < text.length && !WORD_END.test(text[end]!)) end++;
        tokens.push({ kind: "word", text: text.slice(i, end), column });
        i = end;
      }
    }
  }
  tokens.push({ kind: "end", column: text.length + 1 });
  return tokens;
}

class Parser {
  private index = 0;
  constructor(private readonly tokens: Token[]) {}

  peek(): Token {
    return this.tokens[this.index]!;
  }

  private take(): Token {
    const token = this.peek();
    if (token.kind !== "end") this.index++;
    return token;
  }

  private atKeyword(word: string): boolean {
    const token = this.peek();
    return token.kind === "word" && token.text.toLowerCase() === word;
  }

  parseOr(depth: number): Selector {
    const terms = [this.parseAnd(depth)];
    while (this.atKeyword("or")) {
      this.take();
      terms.push(this.parseAnd(depth));
    }
    return terms.length === 1 ? terms[0]! : { kind: "or", terms };
  }

  private parseAnd(depth: number): Selector {
    const terms = [this.parseUnary(depth)];
    while (this.atKeyword("and")) {
      this.take();
      terms.push(this.parseUnary(depth));
    }
    return terms.length === 1 ? terms[0]! : { kind: "and", terms };
  }

  private parseUnary(depth: number): Selector {
    const token = this.peek();
    if (depth >= MAX_SELECTOR_DEPTH && (token.kind === "open" || this.atKeyword("not"))) {
      throw new SelectorError(
        "E_SELECTOR_LIMIT",
        `nested deeper than ${MAX_SELECTOR_DEPTH} levels`,
        token.column,
      );
    }
    if (this.atKeyword("not")) {
      this.take();
      return { kind: "not", term: this.parseUnary(depth + 1) };
    }
    if (token.kind === "open") {
      this.take();
      const inner = this.parseOr(depth + 1);
      const close = this.take();
      if (close.kind !== "close") {
        throw new SelectorError(
          "E_SELECTOR_SYNTAX",
          `expected ')' to close the '(' at column ${token.column}, found ${describe(close)}`,
          close.column,
        );
      }
      return inner;
    }
    return this.parseComparison();
  }

  /** A word that no operator follows, and that names no field of the node: a host pattern. */
  private atHostWord(): boolean {
    const token = this.peek();
    const next = this.tokens[this.index + 1];
    return (
      token.kind === "word" &&
      !KEYWORDS.has(token.text.toLowerCase()) &&
      !NODE_FIELDS.has(token.text) &&
      next?.kind !== "op"
    );
  }

  private parseHosts(): Selector {
    const patterns: HostPattern[] = [];
    while (this.atHostWord()) {
      const word = this.take();
      if (word.kind !== "word") break;
      patterns.push({ text: hostPattern(word.text, word.column), column: word.column });
    }
    return { kind: "hosts", patterns };
  }

  private parseComparison(): Selector {
    if (this.atHostWord()) return this.parseHosts();
    const name = this.take();
    if (name.kind !== "word" || KEYWORDS.has(name.text.toLowerCase())) {
      throw new SelectorError(
        "E_SELECTOR_SYNTAX",
        `expected a host, a fact or 'group' (as in web-*, os.family=debian), found ${describe(name)}`,
        name.column,
      );
    }
    const field = fieldOf(name.text, name.column);
    const op = this.take();
    if (op.kind !== "op") {
      throw new SelectorError(
        "E_SELECTOR_SYNTAX",
        `expected an operator (= != < <= > >=) after '${name.text}', found ${describe(op)}`,
        op.column,
      );
    }
    const valueToken = this.take();
    if (
      (valueToken.kind !== "word" && valueToken.kind !== "string") ||
      (valueToken.kind === "word" && KEYWORDS.has(valueToken.text.toLowerCase()))
    ) {
      const hint =
        valueToken.kind === "word" ? ` (quote it to compare with the word: "${valueToken.text}")` : "";
      throw new SelectorError(
        "E_SELECTOR_SYNTAX",
        `expected a value after '${op.op}'${valueToken.kind === "end" ? "" : `, found ${describe(valueToken)}${hint}`}`,
        valueToken.column,
      );
    }
    const value: SelectorValue = {
      text: valueToken.text,
      quoted: valueToken.kind === "string",
      number:
        valueToken.kind === "word" && NUMBER.test(valueToken.text) ? Number(valueToken.text) : undefined,
    };
    checkOrderable(op.op, value, valueToken.column);
    return { kind: "compare", field, op: op.op, value, column: name.column };
  }
}

/**
 * A bare word as a host name or glob; the API's `targets` list goes through here too, so a host
 * written anywhere obeys the same rule.
 */
export function hostPattern(text: string, column = 1): string {
  if (!HOST_PATTERN.test(text)) {
    throw new SelectorError(
      "E_SELECTOR_SYNTAX",
      `'${text.slice(0, 40)}' is neither a host name or glob (letters, digits, . - _ * ?) nor a comparison (fact=value)`,
      column,
    );
  }
  return text;
}

/** `group`, `host` and `online` are the node's own; every other name is a fact path. */
function fieldOf(name: string, column: number): SelectorField {
  if (name === "group" || name === "host" || name === "online") return { kind: name };
  const path = name.split(".");
  const bad = path.findIndex((segment) => !PATH_SEGMENT.test(segment));
  if (bad >= 0) {
    throw new SelectorError(
      "E_SELECTOR_SYNTAX",
      `'${name}' is not a fact path (names joined by dots, as in os.family or packages.apache2)`,
      column,
    );
  }
  return { kind: "fact", path };
}

/** `<` and friends compare numbers, or versions the Debian way: refuse a value that is neither. */
function checkOrderable(op: ComparisonOperator, value: SelectorValue, column: number): void {
  if (op === "=" || op === "!=" || value.number !== undefined) return;
  try {
    parseDebianVersion(value.text);
  } catch (error) {
    throw new SelectorError(
      "E_SELECTOR_SYNTAX",
      `'${value.text}' after '${op}' is neither a number nor a Debian version (${errorMessage(error)})`,
      column,
    );
  }
}

function describe(token: Token): string {
  switch (token.kind) {
    case "end":
      return "the end";
    case "open":
      return "'('";
    case "close":
      return "')'";
    case "op":
      return `'${token.op}'`;
    case "word":
      return `'${token.text}'`;
    case "string":
      return `"${token.text}"`;
  }
}
