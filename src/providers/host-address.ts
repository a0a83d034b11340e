/** Where a deployed host can be reached, whichever provider deployed it. */
import { StepFailure } from "../step-sdk/define-step.js";
import type { Clipboard } from "../step-sdk/define-step.js";

/** The address steps connect to. */
export interface HostAddress {
  provider: string;
  address: string;
  sshPort: number;
}

/** The provider used when a design names none. */
export const DEFAULT_PROVIDER = "local";

/** The provider a design names in `instance.provider`, or the default when it names none. */
export function providerOf(clipboard: Clipboard): string {
  const instance = clipboard.instance;
  // Own properties only: a design must not reach Object.prototype through `provider`.
  if (
    instance &&
    typeof instance === "object" &&
    !Array.isArray(instance) &&
    Object.hasOwn(instance, "provider")
  ) {
    const value = (instance as Record<string, unknown>).provider;
    if (typeof value === "string" && value !== "") return value;
    if (value !== null && value !== undefined) return String(value);
  }
  return DEFAULT_PROVIDER;
}

/** Read the host's address from the provider's clipboard section; fails naming what is missing. */
export function hostAddress(clipboard: Clipboard): HostAddress {
  const provider = providerOf(clipboard);
  const section = clipboard[provider];
  if (!section || typeof section !== "object") {
    throw new StepFailure(
      "E_CLIPBOARD_FIELD",
      `clipboard field ${provider} is missing: run ${provider}:deploy (or ${provider}:ip) before this step`,
    );
  }
  const s = section as Record<string, unknown>;
  const address = typeof s.ipv4 === "string" ? s.ipv4 : typeof s.ipv6 === "string" ? s.ipv6 : undefined;
  if (!address)
    throw new StepFailure(
      "E_CLIPBOARD_FIELD",
      `clipboard field ${provider}.ipv4 is missing: the host has no address yet`,
    );
  const sshPort = typeof s.ssh_port === "number" ? s.ssh_port : 22;
  return { provider, address, sshPort };
}
