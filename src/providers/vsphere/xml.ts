/**
 * The two XML directions of the vim25 SOAP client. Requests are built from typed nodes and
 * serialised with escaping here, so no caller ever pastes a value into markup (a VM name with `<`
 * or `&` stays a name). Responses are parsed by fast-xml-parser into plain nodes whose element
 * names lose their namespace prefix (vCenter says `soapenv:Body`, others `soap:Body`), while
 * attributes keep theirs: a managed object reference's `type` and the value's `xsi:type` differ.
 */
import { XMLParser } from "fast-xml-parser";
import { ProviderError } from "../../errors.js";

/** One element of a request: text content or child elements, with optional attributes. */
export interface XmlElement {
  name: string;
  attrs?: Readonly<Record<string, string>>;
  children?: readonly XmlElement[];
  text?: string;
}

/** An element with text content (numbers and booleans as XML Schema writes them). */
export function leaf(
  name: string,
  value: string | number | boolean,
  attrs?: Record<string, string>,
): XmlElement {
  return { name, text: String(value), attrs };
}

/** An element with child elements; undefined children (optional fields) are left out. */
export function node(
  name: string,
  children: readonly (XmlElement | undefined)[],
  attrs?: Record<string, string>,
): XmlElement {
  return { name, children: children.filter((c): c is XmlElement => c !== undefined), attrs };
}

// XML 1.0 allows tab, newline, carriage return and everything from U+0020 on (minus surrogates
// and U+FFFE/U+FFFF); anything else cannot be sent at all, escaped or not.
const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const NAME = /^[A-Za-z_][A-Za-z0-9_.:-]*$/;

/** Escape text for element content and double-quoted attributes. */
export function escapeXml(value: string): string {
  if (NOT_XML_CHAR.test(value)) {
    throw new ProviderError(
      "E_PROVIDER_INPUT",
      "vmware: a value contains a control character that XML cannot carry; fix the design's instance fields",
    );
  }
  return value
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

/** Serialise one element and its subtree. Element and attribute names are code, never data. */
export function serialize(el: XmlElement): string {
  if (!NAME.test(el.name)) throw new Error(`bad XML element name ${JSON.stringify(el.name)}`);
  let attrs = "";
  for (const [key, value] of Object.entries(el.attrs ?? {})) {
    if (!NAME.test(key)) throw new Error(`bad XML attribute name ${JSON.stringify(key)}`);
    attrs += ` ${key}="${escapeXml(value)}"`;
  }
  const inner =
    el.text !== undefined ? escapeXml(el.text) : (el.children ?? []).map((c) => serialize(c)).join("");
  return `<${el.name}${attrs}>${inner}</${el.name}>`;
}

/** A SOAP 1.1 envelope around one vim25 request body element. */
export function envelope(body: XmlElement): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" ' +
    'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">' +
    `<soapenv:Body>${serialize({ ...body, attrs: { xmlns: "urn:vim25", ...body.attrs } })}</soapenv:Body>` +
    "</soapenv:Envelope>"
  );
}

/** A parsed element: text in `#text`, attributes as `@name`, children by their local name. */
export type XmlValue = string | XmlObject | XmlValue[];
export interface XmlObject {
  [key: string]: XmlValue | undefined;
}

// Elements that vim25 repeats: always arrays, so a list of one looks like a list of many.
const REPEATED = new Set(["objects", "propSet", "ManagedObjectReference", "OptionValue", "returnval"]);

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@",
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  processEntities: true,
  transformTagName: (name) => name.replace(/^[^:]*:/, ""),
  isArray: (name) => REPEATED.has(name),
});

/** Parse a response document; a body that is not XML is a typed error, not a crash. */
export function parseXml(text: string): XmlObject {
  try {
    const parsed: unknown = parser.parse(text, true);
    if (isXmlObject(parsed)) return parsed;
  } catch {
    // Reported below, with what was received instead.
  }
  throw new ProviderError(
    "E_PROVIDER_UNAVAILABLE",
    `vmware: the server's answer is not XML (${text.slice(0, 80).replace(/\s+/g, " ")}...); check the url: it should end in /sdk`,
    { retryable: true },
  );
}

export function isXmlObject(value: unknown): value is XmlObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The child element `name` of `el`, as an object (text-only elements become {#text}). */
export function child(el: XmlValue | undefined, name: string): XmlObject | undefined {
  if (!isXmlObject(el)) return undefined;
  const value = el[name];
  const first = Array.isArray(value) ? value[0] : value;
  if (typeof first === "string") return { "#text": first };
  return isXmlObject(first) ? first : undefined;
}

/** Every child element `name` of `el`, as objects. */
export function children(el: XmlValue | undefined, name: string): XmlObject[] {
  if (!isXmlObject(el)) return [];
  const value = el[name];
  const list = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return list.map((v) => (typeof v === "string" ? { "#text": v } : isXmlObject(v) ? v : {}));
}

/** The text content of an element (or of its child `name`). */
export function textOf(el: XmlValue | undefined, name?: string): string | undefined {
  const target = name === undefined ? el : child(el, name);
  if (typeof target === "string") return target;
  if (!isXmlObject(target)) return undefined;
  const text = target["#text"];
  // An empty element parses as "" (or {} when it has attributes).
  return typeof text === "string" ? text : "";
}

/** An attribute of an element. */
export function attrOf(el: XmlValue | undefined, name: string): string | undefined {
  if (!isXmlObject(el)) return undefined;
  const value = el[`@${name}`];
  return typeof value === "string" ? value : undefined;
}
