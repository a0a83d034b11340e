/**
 * The `if` language of pipeline steps: a small expression over the clipboard, parsed here and
 * evaluated by walking the tree. Never eval/Function: a pipeline file must not be able to run code
 * inside jarvis, and paths only read a mapping's own keys, so `constructor` or `__proto__` can
 * never reach a prototype.
 *
 *   expr    := and ('||' and)*
 *   and     := compare ('&&' compare)*
 *   compare := unary (('==' | '!=' | '<' | '<=' | '>' | '>=') unary | 'in' (list | path))?
 *   unary   := '!' unary | primary
 *   primary := path | 'string' | "string" | number | true | false | null | list | '(' expr ')'
 *   list    := '[' (unary (',' unary)*)? ']'
 *
 * A bare path is true when the value exists and is truthy (non-empty list, mapping or string,
 * non-zero number, true). A missing path is null. `==` never converts types ("2" != 2); `<` and
 * friends compare two numbers or two strings and are false for anything else.
 */
import { PipelineError } from "../errors.js";

/**
 * Longest condition accepted. Real ones fit on a line; the limit also bounds the tree, so that
 * evaluating a long `a && b && ...` chain cannot run out of stack either.
 */
export const MAX_CONDITION_CHARS = 4096;

/** Deepest nesting of `!`, `(` and `[` accepted; the parser recurses once per level. */
export const MAX_CONDITION_DEPTH = 64;

/** A compiled condition: true when the step should run on this clipboard. */
export type Condition = (clipboard: Record<string, unknown>) => boolean;

type Node =
  | { kind: "lit"; value: unknown }
  | { kind: "path"; parts: string[] }
  | { kind: "list"; items: Node[] }
  | { kind: "not"; arg: Node }
  | { kind: "and" | "or"; left: Node; right: Node }
  | { kind: "cmp"; op: CompareOp; left: Node; right: Node }
  | { kind: "in"; left: Node; right: Node };

type CompareOp = "==" | "!=" | "<" | "<=" | ">" | ">=";

interface Token {
  type: "op" | "str" | "num" | "word" | "end";
  text: string;
  value?: unknown;
  /** 1-based column in the expression. */
  col: number;
}

/** Compile `expr`; syntax errors throw PipelineError E_PIPELINE_CONDITION prefixed with `where`. */
export function compileCondition(expr: string, where: string): Condition {
  if (expr.length > MAX_CONDITION_CHARS) {
    throw new PipelineError(
      "E_PIPELINE_CONDITION",
      `${where}: the condition is ${expr.length} characters long, over the limit of ${MAX_CONDITION_CHARS}; compute the value in a step and test that instead`,
    );
  }
  const tokens = tokenize(expr, where);
  const parser = new Parser(tokens, expr, where);
  const tree = parser.parse();
  return (clipboard) => truthy(evaluate(tree, clipboard));
}

const OPERATORS = ["==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "(", ")", "[", "]", ","];

function tokenize(expr: string, where: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const fail = (col: number, what: string): never => {
    throw syntaxError(where, expr, col, what);
  };
  while (i < expr.length) {
    const c = expr[i] ?? "";
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const col = i + 1;
    if (c === "'" || c === '"') {
      let value = "";
      let j = i + 1;
      for (;;) {
        const d = expr[j];
        if (d === undefined) fail(col, "this string is never closed; add the closing quote");
        if (d === c) break;
        if (d === "\\") {
          const next = expr[j + 1];
          if (next === undefined) fail(j + 1, "a backslash ends the expression");
          value += next;
          j += 2;
          continue;
        }
        value += d;
        j++;
      }
      tokens.push({ type: "str", text: expr.slice(i, j + 1), value, col });
      i = j + 1;
      continue;
    }
    const num = /^-?\d+(?:\.\d+)?/.exec(expr.slice(i));
    if (num && (c !== "-" || /\d/.test(expr[i + 1] ?? ""))) {
      tokens.push({ type: "num", text: num[0], value: Number(num[0]), col });
      i += num[0].length;
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*/.exec(expr.slice(i));
    if (word) {
      if (expr[i + word[0].length] === ".")
        fail(i + word[0].length + 1, "a path cannot end with '.' or have an empty part");
      tokens.push({ type: "word", text: word[0], col });
      i += word[0].length;
      continue;
    }
    const op = OPERATORS.find((o) => expr.startsWith(o, i));
    if (op) {
      tokens.push({ type: "op", text: op, col });
      i += op.length;
      continue;
    }
    const hint = c === "=" ? " (compare with '==')" : c === "&" || c === "|" ? " (use '&&' or '||')" : "";
    fail(col, `unexpected character '${c}'${hint}`);
  }
  tokens.push({ type: "end", text: "end of expression", col: expr.length + 1 });
  return tokens;
}

class Parser {
  private pos = 0;
  private depth = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly expr: string,
    private readonly where: string,
  ) {}

  parse(): Node {
    if (this.peek().type === "end")
      throw syntaxError(this.where, this.expr, 1, "the condition is empty; write an expression or drop 'if'");
    const node = this.or();
    const rest = this.peek();
    if (rest.type !== "end") this.fail(rest, "expected '&&', '||' or the end of the expression");
    return node;
  }

  private or(): Node {
    let left = this.and();
    while (this.accept("||")) left = { kind: "or", left, right: this.and() };
    return left;
  }

  private and(): Node {
    let left = this.compare();
    while (this.accept("&&")) left = { kind: "and", left, right: this.compare() };
    return left;
  }

  private compare(): Node {
    const left = this.unary();
    const t = this.peek();
    if (t.type === "op" && ["==", "!=", "<", "<=", ">", ">="].includes(t.text)) {
      this.pos++;
      const node: Node = { kind: "cmp", op: t.text as CompareOp, left, right: this.unary() };
      this.noChain();
      return node;
    }
    if (t.type === "word" && t.text === "in") {
      this.pos++;
      const next = this.peek();
      let right: Node;
      if (next.type === "op" && next.text === "[") right = this.list();
      else if (next.type === "word" && !isKeyword(next.text)) right = this.primary();
      else return this.fail(next, "expected a list like ['a', 'b'] or a path after 'in'");
      this.noChain();
      return { kind: "in", left, right };
    }
    return left;
  }

  private noChain(): void {
    const t = this.peek();
    if (
      (t.type === "op" && ["==", "!=", "<", "<=", ">", ">="].includes(t.text)) ||
      (t.type === "word" && t.text === "in")
    ) {
      this.fail(t, "comparisons do not chain; join them with '&&' and use parentheses");
    }
  }

  private list(): Node {
    const open = this.peek();
    this.expect("[");
    return this.nested(open, () => {
      const items: Node[] = [];
      if (!this.accept("]")) {
        do items.push(this.unary());
        while (this.accept(","));
        this.expect("]", "expected ',' or ']' in the list");
      }
      return { kind: "list", items };
    });
  }

  private unary(): Node {
    const t = this.peek();
    if (this.accept("!")) return { kind: "not", arg: this.nested(t, () => this.unary()) };
    return this.primary();
  }

  /** Parse one nesting level deeper, refusing what would overflow the stack. */
  private nested<T>(at: Token, parse: () => T): T {
    if (this.depth >= MAX_CONDITION_DEPTH)
      this.fail(at, `nested more than ${MAX_CONDITION_DEPTH} levels deep ('!', '(' and '['); simplify it`);
    this.depth++;
    try {
      return parse();
    } finally {
      this.depth--;
    }
  }

  private primary(): Node {
    const t = this.peek();
    this.pos++;
    if (t.type === "str" || t.type === "num") return { kind: "lit", value: t.value };
    if (t.type === "word") {
      if (t.text === "true") return { kind: "lit", value: true };
      if (t.text === "false") return { kind: "lit", value: false };
      if (t.text === "null") return { kind: "lit", value: null };
      if (t.text === "in")
        return this.fail(t, "'in' needs a value on its left, e.g. instance.provider in ['linode']");
      return { kind: "path", parts: t.text.split(".") };
    }
    if (t.type === "op" && t.text === "[") {
      this.pos--;
      return this.list();
    }
    if (t.type === "op" && t.text === "(") {
      const inner = this.nested(t, () => this.or());
      this.expect(")", "expected ')' to close the '('");
      return inner;
    }
    this.pos--;
    return this.fail(
      t,
      "expected a value: a path (instance.provider), a 'string', a number, true, false, null, a [list] or '('",
    );
  }

  private peek(): Token {
    return this.tokens[this.pos] ?? this.tokens[this.tokens.length - 1]!;
  }

  private accept(op: string): boolean {
    const t = this.peek();
    if (t.type === "op" && t.text === op) {
      this.pos++;
      return true;
    }
    return false;
  }

  private expect(op: string, message = `expected '${op}'`): void {
    if (!this.accept(op)) this.fail(this.peek(), message);
  }

  private fail(t: Token, what: string): never {
    const found = t.type === "end" ? "the end of the expression" : `'${t.text}'`;
    throw syntaxError(this.where, this.expr, t.col, `${what}, found ${found}`);
  }
}

function isKeyword(word: string): boolean {
  return word === "true" || word === "false" || word === "null" || word === "in";
}

function syntaxError(where: string, expr: string, col: number, what: string): PipelineError {
  return new PipelineError(
    "E_PIPELINE_CONDITION",
    `${where}: bad condition "${expr.length > 120 ? `${expr.slice(0, 117)}...` : expr}" at column ${col}: ${what}`,
  );
}

function evaluate(node: Node, clipboard: Record<string, unknown>): unknown {
  switch (node.kind) {
    case "lit":
      return node.value;
    case "path":
      return lookup(clipboard, node.parts);
    case "list":
      return node.items.map((item) => evaluate(item, clipboard));
    case "not":
      return !truthy(evaluate(node.arg, clipboard));
    case "and":
      return truthy(evaluate(node.left, clipboard)) && truthy(evaluate(node.right, clipboard));
    case "or":
      return truthy(evaluate(node.left, clipboard)) || truthy(evaluate(node.right, clipboard));
    case "cmp":
      return compare(node.op, evaluate(node.left, clipboard), evaluate(node.right, clipboard));
    case "in":
      return contains(evaluate(node.right, clipboard), evaluate(node.left, clipboard));
  }
}

/** Read a dotted path through own keys of mappings and indexes of lists; missing is null. */
function lookup(root: unknown, parts: readonly string[]): unknown {
  let node: unknown = root;
  for (const part of parts) {
    if (Array.isArray(node)) {
      if (!/^\d+$/.test(part)) return null;
      node = node[Number(part)];
    } else if (node !== null && typeof node === "object" && Object.hasOwn(node, part)) {
      node = (node as Record<string, unknown>)[part];
    } else {
      return null;
    }
    if (node === undefined) return null;
  }
  return node;
}

/** Truthiness as the `if` language defines it (empty mappings are false, unlike JavaScript). */
function truthy(value: unknown): boolean {
  if (value === null || value === undefined) return false;
  if (typeof value === "boolean") return value;
  if (typeof value === "number") return value !== 0 && !Number.isNaN(value);
  if (typeof value === "string") return value.length > 0;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === "object") return Object.keys(value).length > 0;
  return false;
}

function compare(op: CompareOp, a: unknown, b: unknown): boolean {
  if (op === "==") return equal(a, b);
  if (op === "!=") return !equal(a, b);
  const comparable =
    (typeof a === "number" && typeof b === "number") || (typeof a === "string" && typeof b === "string");
  if (!comparable) return false;
  const x = a as number | string;
  const y = b as number | string;
  return op === "<" ? x < y : op === "<=" ? x <= y : op === ">" ? x > y : x >= y;
}

/** Structural equality without type conversion. */
function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => equal(v, b[i]));
  if (a && b && typeof a === "object" && typeof b === "object" && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return (
      ka.length === kb.length &&
      ka.every(
        (k) =>
          Object.hasOwn(b, k) && equal((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
      )
    );
  }
  return false;
}

/** `x in list` is membership; `k in mapping` asks for an own key; `s in string` a substring. */
function contains(container: unknown, item: unknown): boolean {
  if (Array.isArray(container)) return container.some((v) => equal(v, item));
  if (typeof container === "string") return typeof item === "string" && container.includes(item);
  if (container && typeof container === "object")
    return typeof item === "string" && Object.hasOwn(container, item);
  return false;
}
