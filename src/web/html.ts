/**
 * HTML made safe by construction: `html` is a tagged template that escapes every interpolated
 * value unless it is already `SafeHtml` (built by `html` itself), so a design's hostname, a log
 * line or an error message can never become markup. Nothing else in src/web concatenates markup.
 */

/** Markup that has been escaped (or written literally in a template). */
export class SafeHtml {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
  "`": "&#96;",
};

/** Text as HTML text or attribute value (every attribute is quoted in the templates). */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => ESCAPES[c] ?? c);
}

type Interpolated = SafeHtml | string | number | boolean | null | undefined | readonly Interpolated[];

function render(value: Interpolated): string {
  if (value === null || value === undefined || value === false) return "";
  if (value instanceof SafeHtml) return value.text;
  if (Array.isArray(value)) return value.map((v: Interpolated) => render(v)).join("");
  return escapeHtml(String(value));
}

/** The template tag: literal parts kept, values escaped, arrays joined, null/undefined/false dropped. */
export function html(strings: TemplateStringsArray, ...values: Interpolated[]): SafeHtml {
  let out = strings[0] ?? "";
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? "");
  });
  return new SafeHtml(out);
}
