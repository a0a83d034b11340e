import { describe, expect, it } from "vitest";
import { faultError, soapFault, taskFault } from "../../../../src/providers/vsphere/faults.js";
import { moRef } from "../../../../src/providers/vsphere/client.js";
import {
  child,
  children,
  envelope,
  escapeXml,
  leaf,
  node,
  parseXml,
  textOf,
} from "../../../../src/providers/vsphere/xml.js";

const faultDoc = (detail: string, message = "Login failure"): string =>
  `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>${message}</faultstring><detail>${detail}</detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>`;

function faultOf(doc: string): ReturnType<typeof soapFault> {
  const fault = child(child(child(parseXml(doc), "Envelope"), "Body"), "Fault");
  return soapFault(fault!);
}

describe("vim25 XML", () => {
  it("escapes values so a name cannot become markup", () => {
    const xml = envelope(node("CloneVM_Task", [leaf("name", `a<b>&"c'`, { type: "x&y" })]));
    expect(xml).toContain(`<name type="x&amp;y">a&lt;b&gt;&amp;&quot;c&apos;</name>`);
    expect(xml).toContain('<CloneVM_Task xmlns="urn:vim25">');
    const back = parseXml(xml);
    expect(textOf(child(child(child(back, "Envelope"), "Body"), "CloneVM_Task"), "name")).toBe(`a<b>&"c'`);
  });

  it("refuses characters XML cannot carry", () => {
    expect(() => escapeXml("bad\u0001name")).toThrow(/control character/);
  });

  it("reads managed object references and repeated elements, one or many", () => {
    const doc = parseXml(
      `<r xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><val type="VirtualMachine" xsi:type="ManagedObjectReference">vm-42</val><objects><a>1</a></objects></r>`,
    );
    expect(moRef(child(child(doc, "r"), "val"))).toEqual({ type: "VirtualMachine", value: "vm-42" });
    expect(children(child(doc, "r"), "objects")).toHaveLength(1);
  });

  it("says plainly when the answer is not XML", () => {
    expect(() => parseXml("<html><body>404")).toThrow(/not XML|should end in \/sdk/);
  });
});

describe("vim25 faults", () => {
  it("InvalidLogin is an auth error that names the settings and is not retryable", () => {
    const f = faultOf(
      faultDoc('<InvalidLoginFault xmlns="urn:vim25" xsi:type="InvalidLogin"></InvalidLoginFault>'),
    );
    expect(f).toEqual({ type: "InvalidLogin", message: "Login failure" });
    const err = faultError(f, "Login");
    expect(err.code).toBe("E_PROVIDER_AUTH");
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/VSPHERE_USER and VSPHERE_PASSWORD/);
  });

  it("takes the type from the element name when xsi:type is missing", () => {
    expect(
      faultOf(faultDoc('<DuplicateNameFault xmlns="urn:vim25"><name>loki</name></DuplicateNameFault>')).type,
    ).toBe("DuplicateName");
  });

  it("maps state faults to retryable and unknown faults to input errors", () => {
    expect(faultError({ type: "InvalidPowerState", message: "" }, "PowerOnVM_Task")).toMatchObject({
      code: "E_PROVIDER_STATE",
      retryable: true,
    });
    expect(faultError({ type: "InvalidState", message: "" }, "x").retryable).toBe(true);
    expect(faultError({ type: "DuplicateName", message: "" }, "x").code).toBe("E_PROVIDER_DUPLICATE");
    expect(faultError({ type: "NoPermission", message: "" }, "x").code).toBe("E_PROVIDER_FORBIDDEN");
    expect(faultError({ type: "InvalidArgument", message: "" }, "x")).toMatchObject({
      code: "E_PROVIDER_INPUT",
      retryable: false,
    });
  });

  it("reads a task's LocalizedMethodFault", () => {
    const doc = parseXml(
      `<val xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="LocalizedMethodFault"><fault xsi:type="DuplicateName"><name>loki</name></fault><localizedMessage>The name 'loki' already exists.</localizedMessage></val>`,
    );
    expect(taskFault(child(doc, "val")!)).toEqual({
      type: "DuplicateName",
      message: "The name 'loki' already exists.",
    });
  });
});
