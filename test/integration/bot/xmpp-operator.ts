/**
 * An XMPP client playing the operator in tests: the real @xmpp/client, optionally in a MUC room,
 * keeping every message body it receives as "<from>: <body>".
 */
import { client, xml } from "@xmpp/client";
import type { Element } from "@xmpp/client";
import { eventually } from "../../helpers/net.js";

/** A connected XMPP operator. */
export interface XmppOperator {
  seen: string[];
  /** Say something in a joined room. */
  groupchat(room: string, text: string): Promise<void>;
  /** Send a direct message. */
  chat(to: string, text: string): Promise<void>;
  waitFor(pattern: RegExp, from?: number, timeoutMs?: number): Promise<string>;
  close(): Promise<void>;
}

/** Log in as user@localhost and join `rooms` with `nick`. */
export async function connectXmppOperator(
  service: string,
  user: string,
  password: string,
  rooms: string[],
  nick = user,
): Promise<XmppOperator> {
  const xmpp = client({ service, domain: "localhost", username: user, password, resource: "test" });
  const seen: string[] = [];
  const joined = new Set<string>();
  xmpp.on("error", () => undefined);
  xmpp.on("stanza", (stanza: Element) => {
    if (stanza.is("presence") && stanza.attrs.from?.endsWith(`/${nick}`))
      joined.add(stanza.attrs.from.split("/")[0]!);
    const body = stanza.is("message") ? stanza.getChildText("body") : null;
    if (body !== null && !stanza.getChild("delay", "urn:xmpp:delay"))
      seen.push(`${stanza.attrs.from}: ${body}`);
  });
  await xmpp.start();
  await xmpp.send(xml("presence"));
  for (const room of rooms) {
    await xmpp.send(
      xml(
        "presence",
        { to: `${room}/${nick}` },
        xml("x", { xmlns: "http://jabber.org/protocol/muc" }, xml("history", { maxstanzas: "0" })),
      ),
    );
  }
  await eventually(
    () => (rooms.every((r) => joined.has(r)) ? true : undefined),
    20_000,
    `${user} joined ${rooms.join(",")}`,
  );
  return {
    seen,
    groupchat: (room, text) =>
      xmpp.send(xml("message", { to: room, type: "groupchat" }, xml("body", {}, text))),
    chat: (to, text) => xmpp.send(xml("message", { to, type: "chat" }, xml("body", {}, text))),
    waitFor: (pattern, from = 0, timeoutMs = 30_000) =>
      eventually(
        () => seen.slice(from).find((l) => pattern.test(l)),
        timeoutMs,
        `a message matching ${pattern} (seen: ${seen.slice(-8).join(" | ")})`,
      ),
    async close() {
      await Promise.race([xmpp.stop().catch(() => undefined), new Promise((r) => setTimeout(r, 3_000))]);
    },
  };
}
