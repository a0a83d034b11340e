/**
 * The chat adapter kinds, registered explicitly in one typed map (DESIGN.md convention 2): a
 * network's `kind` in jarvis.yml picks its factory here, and nothing registers itself by import.
 */
import type { ChatAdapter } from "../chat-adapter.js";
import type {
  IrcNetworkConfig,
  MatrixNetworkConfig,
  NetworkConfig,
  XmppNetworkConfig,
} from "../chat-config.js";
import { IrcAdapter } from "./irc.js";
import { MatrixAdapter } from "./matrix.js";
import { XmppAdapter } from "./xmpp.js";

/** What adapters may ask of the bot. */
export interface AdapterContext {
  /** Whether an identity may pull the bot into a room (Matrix invites). */
  mayInvite(identity: string): boolean;
  log(line: string): void;
}

/** Factory per network kind. */
export interface AdapterFactories {
  irc(config: IrcNetworkConfig, ctx: AdapterContext): ChatAdapter;
  xmpp(config: XmppNetworkConfig, ctx: AdapterContext): ChatAdapter;
  matrix(config: MatrixNetworkConfig, ctx: AdapterContext): ChatAdapter;
}

/** Every adapter kind jarvis ships. */
export const adapterKinds: AdapterFactories = {
  irc: (config) => new IrcAdapter(config),
  xmpp: (config) => new XmppAdapter(config),
  matrix: (config, ctx) => new MatrixAdapter(config, ctx),
};

/** The adapter for one configured network. */
export function createAdapter(
  config: NetworkConfig,
  ctx: AdapterContext,
  kinds: AdapterFactories = adapterKinds,
): ChatAdapter {
  switch (config.kind) {
    case "irc":
      return kinds.irc(config, ctx);
    case "xmpp":
      return kinds.xmpp(config, ctx);
    case "matrix":
      return kinds.matrix(config, ctx);
  }
}
