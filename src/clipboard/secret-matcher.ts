/**
 * Finds every occurrence of many known secret values in one pass (Aho-Corasick), so masking
 * costs time linear in the text whatever the number and length of the secrets. The alternation
 * regex it replaces backtracked on long tokens: a 100 KB base64 value took 24-30 s to print.
 */

/** The spans of a text covered by known secrets. */
export interface SecretMatcher {
  /** `text` with each run of characters covered by one or more secrets replaced by `mask`. */
  replace(text: string, mask: string): string;
  /** Characters examined and links followed by the last call (a measure of work for tests). */
  readonly steps: number;
}

/**
 * Build a matcher for `patterns` (non-empty strings). Overlapping and nested secrets are hidden
 * as their union: a secret inside a longer one, or two secrets that share characters, never
 * leave a part of either visible.
 */
export function createSecretMatcher(patterns: readonly string[]): SecretMatcher {
  // Node 0 is the root. Most nodes of long secrets have one child, kept in two plain arrays;
  // only branching nodes get a map (a map per node made a 100 KB secret cost 100,000 maps).
  // `longest[n]` is the length of the longest pattern ending at node n, itself or by suffix links.
  const firstCode: number[] = [-1];
  const firstChild: number[] = [0];
  const more: (Map<number, number> | undefined)[] = [undefined];
  const fail: number[] = [0];
  const longest: number[] = [0];
  const step = (node: number, code: number): number | undefined =>
    firstCode[node] === code ? firstChild[node] : more[node]?.get(code);
  for (const pattern of patterns) {
    let node = 0;
    for (let i = 0; i < pattern.length; i++) {
      const code = pattern.charCodeAt(i);
      let child = step(node, code);
      if (child === undefined) {
        child = fail.length;
        fail.push(0);
        longest.push(0);
        firstCode.push(-1);
        firstChild.push(0);
        more.push(undefined);
        if (firstCode[node] === -1) {
          firstCode[node] = code;
          firstChild[node] = child;
        } else (more[node] ??= new Map()).set(code, child);
      }
      node = child;
    }
    if (pattern !== "") longest[node] = Math.max(longest[node]!, pattern.length);
  }
  // Breadth first, so a node's suffix link is final before its children need it.
  const queue: number[] = [];
  const edgesOf = (node: number): [number, number][] => {
    const out: [number, number][] = firstCode[node] === -1 ? [] : [[firstCode[node]!, firstChild[node]!]];
    for (const edge of more[node] ?? []) out.push(edge);
    return out;
  };
  for (const [, child] of edgesOf(0)) queue.push(child);
  for (let head = 0; head < queue.length; head++) {
    const node = queue[head]!;
    for (const [code, child] of edgesOf(node)) {
      let f = fail[node]!;
      let target = step(f, code);
      while (target === undefined && f !== 0) {
        f = fail[f]!;
        target = step(f, code);
      }
      fail[child] = target ?? 0;
      longest[child] = Math.max(longest[child]!, longest[fail[child]!]!);
      queue.push(child);
    }
  }

  const matcher = {
    steps: 0,
    replace(text: string, mask: string): string {
      let steps = 0;
      // Merged covered spans [start, end), kept as a stack: a later match may start before the
      // spans found so far and swallow them.
      const starts: number[] = [];
      const ends: number[] = [];
      let node = 0;
      for (let i = 0; i < text.length; i++) {
        const code = text.charCodeAt(i);
        steps++;
        let to = step(node, code);
        while (to === undefined && node !== 0) {
          node = fail[node]!;
          to = step(node, code);
          steps++;
        }
        node = to ?? 0;
        const length = longest[node]!;
        if (length === 0) continue;
        let start = i + 1 - length;
        const end = i + 1;
        while (starts.length > 0 && ends[ends.length - 1]! >= start) {
          start = Math.min(start, starts.pop()!);
          ends.pop();
          steps++;
        }
        starts.push(start);
        ends.push(end);
      }
      matcher.steps = steps;
      if (starts.length === 0) return text;
      const parts: string[] = [];
      let at = 0;
      for (let k = 0; k < starts.length; k++) {
        parts.push(text.slice(at, starts[k]), mask);
        at = ends[k]!;
      }
      parts.push(text.slice(at));
      return parts.join("");
    },
  };
  return matcher;
}
