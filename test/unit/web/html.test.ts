import { describe, expect, it } from "vitest";
import { escapeHtml, html } from "../../../src/web/html.js";

describe("html", () => {
  it("escapes every interpolated value, in text and in quoted attributes", () => {
    const hostile = `<script>alert("x")</script>' onmouseover='x' \`&`;
    const out = html`<p title="${hostile}">${hostile}</p>`.text;
    expect(out).not.toContain("<script>");
    expect(out).not.toMatch(/title="[^"]*"[^>]*onmouseover/);
    expect(out).toBe(`<p title="${escapeHtml(hostile)}">${escapeHtml(hostile)}</p>`);
    expect(escapeHtml(`<>&"'\``)).toBe("&lt;&gt;&amp;&quot;&#39;&#96;");
  });

  it("keeps nested templates as markup, joins arrays and drops null, undefined and false", () => {
    const rows = ["a<b", "c"].map((x) => html`<li>${x}</li>`);
    const list = html`<ul>
      ${rows}${null}${undefined}${false}
    </ul>`;
    // prettier lays out html`` templates; whitespace between tags does not matter here.
    expect(list.text.replace(/\s+/g, "")).toBe("<ul><li>a&lt;b</li><li>c</li></ul>");
    expect(html`${0}`.text).toBe("0");
  });
});
