/**
 * A small typed client for the vSphere Web Services API (vim25 SOAP at /sdk): the session, the
 * property collector and the few VM methods jarvis needs. A session that expires (or that an
 * administrator terminated) is met as NotAuthenticated: the client logs in once more and repeats
 * the call, once. The password is only ever in the Login body; it never reaches a message.
 */
import { setTimeout as delay } from "node:timers/promises";
import { ProviderError } from "../../errors.js";
import { scrub } from "../retry.js";
import { faultError, soapFault, taskFault } from "./faults.js";
import { SoapTransport } from "./transport.js";
import { attrOf, child, children, envelope, leaf, node, parseXml, textOf } from "./xml.js";
import type { XmlElement, XmlObject, XmlValue } from "./xml.js";

/** A managed object reference: `{type: "VirtualMachine", value: "vm-42"}`. */
export interface MoRef {
  type: string;
  value: string;
}

/** One object from the property collector with the properties asked for (missing ones absent). */
export interface ObjectContent {
  ref: MoRef;
  props: Map<string, XmlObject>;
}

/** How to reach and log in to a vCenter or ESX host. */
export interface VsphereOptions {
  /** The SDK endpoint, e.g. https://vcenter.example.org/sdk */
  url: string;
  username: string;
  password: string;
  /** PEM CA certificates to trust besides the system's (self-signed vCenters). */
  ca?: string;
  /** vim25 API version announced in SOAPAction. */
  apiVersion?: string;
  requestTimeoutMs?: number;
  log(line: string): void;
}

interface ServiceContent {
  rootFolder: MoRef;
  propertyCollector: MoRef;
  viewManager: MoRef;
  sessionManager: MoRef;
}

const SESSION_COOKIE = "vmware_soap_session";
const SERVICE_INSTANCE: MoRef = { type: "ServiceInstance", value: "ServiceInstance" };

/** The managed object reference element `name` for `ref`. */
export function refElement(name: string, ref: MoRef): XmlElement {
  return leaf(name, ref.value, { type: ref.type });
}

/** Read a managed object reference value (`<x type="VirtualMachine">vm-42</x>`). */
export function moRef(value: XmlValue | undefined): MoRef | undefined {
  const type = attrOf(value, "type");
  const id = textOf(value);
  return type && id ? { type, value: id } : undefined;
}

export class VsphereClient {
  private readonly transport: SoapTransport;
  private cookie: string | undefined;
  private content: ServiceContent | undefined;

  constructor(private readonly opts: VsphereOptions) {
    let url: URL;
    try {
      url = new URL(opts.url);
    } catch {
      throw new ProviderError(
        "E_PROVIDER_PARAM",
        `vmware: url ${JSON.stringify(opts.url)} is not a URL; set modules.vmware.with.url (e.g. https://vcenter.example.org/sdk)`,
      );
    }
    if (!opts.username || !opts.password) {
      throw new ProviderError(
        "E_PROVIDER_AUTH",
        "vmware: no credentials; set VSPHERE_USER and VSPHERE_PASSWORD in modules.vmware.env of jarvis.yml",
      );
    }
    this.transport = new SoapTransport({ url, ca: opts.ca, timeoutMs: opts.requestTimeoutMs ?? 60_000 });
  }

  /** The service's well-known objects (read once; needs no session). */
  async serviceContent(signal: AbortSignal): Promise<ServiceContent> {
    if (this.content) return this.content;
    const res = await this.send("RetrieveServiceContent", SERVICE_INSTANCE, [], signal);
    const rv = child(res, "returnval");
    const need = (name: string): MoRef => {
      const ref = moRef(child(rv, name));
      if (!ref)
        throw new ProviderError(
          "E_PROVIDER_UNAVAILABLE",
          `vmware: the server's service content has no ${name}; is the url a vCenter or ESX /sdk?`,
        );
      return ref;
    };
    this.content = {
      rootFolder: need("rootFolder"),
      propertyCollector: need("propertyCollector"),
      viewManager: need("viewManager"),
      sessionManager: need("sessionManager"),
    };
    return this.content;
  }

  async login(signal: AbortSignal): Promise<void> {
    const sc = await this.serviceContent(signal);
    this.cookie = undefined;
    await this.send(
      "Login",
      sc.sessionManager,
      [leaf("userName", this.opts.username), leaf("password", this.opts.password)],
      signal,
    );
    if (!this.cookie)
      throw new ProviderError("E_PROVIDER_UNAVAILABLE", "vmware: login answered without a session cookie");
  }

  /** End the session (no error when it has ended already). */
  async logout(signal: AbortSignal): Promise<void> {
    if (this.cookie && this.content) {
      try {
        await this.send("Logout", this.content.sessionManager, [], signal);
      } catch (err) {
        if (!isSessionEnded(err)) throw err;
      }
    }
    this.cookie = undefined;
    this.transport.close();
  }

  /**
   * Call a vim25 method in the session (logging in first if there is none); the response element.
   * A NotAuthenticated answer means the session ended: log in again and repeat the call once.
   */
  async invoke(method: string, self: MoRef, args: XmlElement[], signal: AbortSignal): Promise<XmlObject> {
    if (!this.cookie) await this.login(signal);
    try {
      return await this.send(method, self, args, signal);
    } catch (err) {
      if (!isSessionEnded(err)) throw err;
      this.opts.log("vmware: the session ended (NotAuthenticated); logging in again");
      await this.login(signal);
      try {
        return await this.send(method, self, args, signal);
      } catch (again) {
        // A fresh session refused too: the account lacks a privilege, not a session.
        if (isSessionEnded(again))
          throw faultError({ type: "NotAuthenticated", message: again.message }, method);
        throw again;
      }
    }
  }

  /** Property values of objects, by PropertyFilterSpec elements; follows continuation tokens. */
  async retrieve(specSet: XmlElement[], signal: AbortSignal): Promise<ObjectContent[]> {
    const pc = (await this.serviceContent(signal)).propertyCollector;
    const out: ObjectContent[] = [];
    let res = await this.invoke("RetrievePropertiesEx", pc, [...specSet, node("options", [])], signal);
    // Bounded: 1000 pages of the server's page size is more than any inventory.
    for (let page = 0; page < 1000; page++) {
      const rv = child(res, "returnval");
      for (const o of children(rv, "objects")) {
        const ref = moRef(child(o, "obj"));
        if (!ref) continue;
        const props = new Map<string, XmlObject>();
        for (const p of children(o, "propSet")) {
          const name = textOf(p, "name");
          const val = child(p, "val");
          if (name && val) props.set(name, val);
        }
        out.push({ ref, props });
      }
      const token = textOf(rv, "token");
      if (!token) break;
      res = await this.invoke("ContinueRetrievePropertiesEx", pc, [leaf("token", token)], signal);
    }
    return out;
  }

  /** Properties of one object. */
  async properties(ref: MoRef, paths: string[], signal: AbortSignal): Promise<Map<string, XmlObject>> {
    const [found] = await this.retrieve(
      [
        node("specSet", [
          node("propSet", [leaf("type", ref.type), ...paths.map((p) => leaf("pathSet", p))]),
          node("objectSet", [refElement("obj", ref), leaf("skip", false)]),
        ]),
      ],
      signal,
    );
    return found?.props ?? new Map<string, XmlObject>();
  }

  /** Every object of `type` under `root` (default: the whole inventory) with the given properties. */
  async objectsOfType(
    type: string,
    paths: string[],
    signal: AbortSignal,
    root?: MoRef,
  ): Promise<ObjectContent[]> {
    const sc = await this.serviceContent(signal);
    const created = await this.invoke(
      "CreateContainerView",
      sc.viewManager,
      [refElement("container", root ?? sc.rootFolder), leaf("type", type), leaf("recursive", true)],
      signal,
    );
    const view = moRef(child(created, "returnval"));
    if (!view)
      throw new ProviderError("E_PROVIDER_UNAVAILABLE", "vmware: CreateContainerView returned no view");
    // On a failure the view is left to die with the session: destroying it could mask the error.
    const found = await this.retrieve(
      [
        node("specSet", [
          node("propSet", [leaf("type", type), ...paths.map((p) => leaf("pathSet", p))]),
          node("objectSet", [
            refElement("obj", view),
            leaf("skip", true),
            node(
              "selectSet",
              [
                leaf("name", "view"),
                leaf("type", "ContainerView"),
                leaf("path", "view"),
                leaf("skip", false),
              ],
              { "xsi:type": "TraversalSpec" },
            ),
          ]),
        ]),
      ],
      signal,
    );
    await this.invoke("DestroyView", view, [], signal);
    return found;
  }

  /** Start a `*_Task` method and wait for its outcome; the task's result element, if any. */
  async runTask(
    method: string,
    self: MoRef,
    args: XmlElement[],
    signal: AbortSignal,
    timeoutMs: number,
  ): Promise<XmlObject | undefined> {
    const task = moRef(child(await this.invoke(method, self, args, signal), "returnval"));
    if (!task) throw new ProviderError("E_PROVIDER_UNAVAILABLE", `vmware: ${method} returned no task`);
    const deadline = Date.now() + timeoutMs;
    let wait = 100;
    for (;;) {
      const info = await this.properties(task, ["info.state", "info.error", "info.result"], signal);
      const state = textOf(info.get("info.state"));
      if (state === "success") return info.get("info.result");
      if (state === "error") {
        const error = info.get("info.error");
        throw faultError(error ? taskFault(error) : { type: "unknown", message: "" }, method);
      }
      if (Date.now() + wait > deadline) {
        throw new ProviderError(
          "E_PROVIDER_WAIT_TIMEOUT",
          `vmware: ${method} (${task.value}) did not finish within ${Math.round(timeoutMs / 1000)} s; the step can be retried`,
          { retryable: true },
        );
      }
      await delay(wait, undefined, { signal });
      wait = Math.min(wait * 2, 2000);
    }
  }

  private async send(
    method: string,
    self: MoRef,
    args: XmlElement[],
    signal: AbortSignal,
  ): Promise<XmlObject> {
    const body = envelope(node(method, [refElement("_this", self), ...args]));
    const headers: Record<string, string> = {
      "Content-Type": "text/xml; charset=utf-8",
      SOAPAction: `urn:vim25/${this.opts.apiVersion ?? "6.5"}`,
    };
    if (this.cookie) headers.Cookie = this.cookie;
    const reply = await this.transport.post(body, headers, signal);
    for (const line of reply.headers["set-cookie"] ?? []) {
      const pair = line.split(";")[0] ?? "";
      if (pair.startsWith(`${SESSION_COOKIE}=`)) this.cookie = pair;
    }
    const isXml = /xml/i.test(reply.headers["content-type"] ?? "") || reply.body.trimStart().startsWith("<");
    if (!isXml || (reply.status !== 200 && reply.status !== 500)) {
      throw new ProviderError(
        reply.status >= 500 ? "E_PROVIDER_UNAVAILABLE" : "E_PROVIDER_INPUT",
        `vmware: ${method} answered HTTP ${reply.status}; check modules.vmware.with.url (it should end in /sdk)`,
        { retryable: reply.status >= 500 },
      );
    }
    const body$ = child(child(parseXml(reply.body), "Envelope"), "Body");
    const fault = child(body$, "Fault");
    if (fault) {
      const vim = soapFault(fault);
      vim.message = scrub(vim.message, [this.opts.password]);
      if (vim.type === "NotAuthenticated" && method !== "Login")
        throw new ProviderError("E_PROVIDER_SESSION", vim.message || "session ended", { retryable: true });
      throw faultError(vim, method);
    }
    const response = child(body$, `${method}Response`);
    if (!response)
      throw new ProviderError(
        "E_PROVIDER_UNAVAILABLE",
        `vmware: ${method} answered without a ${method}Response`,
      );
    return response;
  }
}

/** A call refused because the session ended (NotAuthenticated): worth one fresh login. */
function isSessionEnded(err: unknown): err is ProviderError {
  return err instanceof ProviderError && err.code === "E_PROVIDER_SESSION";
}
