// The part of @xmpp/client (which ships no types) that jarvis uses.
declare module "@xmpp/client" {
  import type { EventEmitter } from "node:events";

  interface Element {
    name: string;
    attrs: Record<string, string | undefined>;
    children: (Element | string)[];
    is(name: string, xmlns?: string): boolean;
    getChild(name: string, xmlns?: string): Element | undefined;
    getChildren(name: string, xmlns?: string): Element[];
    getChildText(name: string, xmlns?: string): string | null;
  }

  interface XmppClient extends EventEmitter {
    status: string;
    jid: { toString(): string } | null;
    reconnect: EventEmitter & { delay: number; stop(): void; reconnect(): Promise<void> };
    streamManagement: EventEmitter;
    start(): Promise<unknown>;
    stop(): Promise<unknown>;
    send(element: Element): Promise<void>;
  }

  function client(options: {
    service: string;
    domain: string;
    username?: string;
    password?: string;
    resource?: string;
  }): XmppClient;
  function xml(
    name: string,
    attrs?: Record<string, string | undefined> | null,
    ...children: (Element | string)[]
  ): Element;
  export { client, xml, Element, XmppClient };
}
