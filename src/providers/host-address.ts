/** Where a deployed host can be reached, whichever provider deployed it. */
import { StepFailure } from "../pipeline/define-step.js";
import type { Clipboard } from "../pipeline/define-step.js";

/** The address steps connect to. */
export interface HostAddress {
  provider: string;
  address: string;
  sshPort: number;
}

/** The provider named by the design (`instance.provider`, "local" when absent). */
export function providerOf(clipboard: Clipboard): string {
  const instance = clipboard.instance;
  const named =
    instance && typeof instance === "object" ? (instance as Record<string, unknown>).provider : undefined;
  return typeof named === "string" && named !== "" ? named : "local";
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
