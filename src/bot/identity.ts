/**
 * Identities: what a network vouches for, as one string "<network>:<id>" that the ACL matches.
 * Never a display name or a bare nick: on IRC a nick is anyone's to take, so without an account
 * the identity is the whole nick!user@host mask, and a nick change yields a different identity.
 */
import { userInfo } from "node:os";

/** IRC: the services/SASL account when the network vouches for one, else the full mask. */
export function ircIdentity(
  network: string,
  account: string | undefined,
  nick: string,
  user: string,
  host: string,
): string {
  if (account) return `${network}:${account}`;
  return `${network}:${nick}!${user}@${host}`;
}

/** XMPP: the bare JID (local@domain), lower-cased as XMPP node and domain parts compare. */
export function xmppIdentity(network: string, jid: string): string {
  const bare = jid.split("/")[0] ?? jid;
  return `${network}:${bare.toLowerCase()}`;
}

/** Matrix: the user id (@alice:server), which the homeserver vouches for. */
export function matrixIdentity(network: string, userId: string): string {
  return `${network}:${userId}`;
}

/** The console user: the operating-system account running jarvis. */
export function consoleIdentity(): string {
  let name: string;
  try {
    name = userInfo().username;
  } catch {
    name = process.env.USER ?? "unknown";
  }
  return `console:${name}`;
}

/** The network part of an identity ("irc" of "irc:alice"). */
export function networkOf(identity: string): string {
  const at = identity.indexOf(":");
  return at < 0 ? identity : identity.slice(0, at);
}
