import { describe, expect, it } from "vitest";
import { hostSection } from "../../../src/providers/provider-step.js";
import { hostAddress } from "../../../src/providers/host-address.js";

describe("the provider's clipboard section", () => {
  const info = { id: "42", label: "web1", state: "running", ipv4: "192.0.2.7" } as const;

  it("records the provider module's ssh_port with the address, for the ssh steps", () => {
    const section = hostSection(info, 2222);
    expect(section).toEqual({ id: "42", label: "web1", state: "running", ipv4: "192.0.2.7", ssh_port: 2222 });
    expect(hostAddress({ instance: { provider: "linode" }, linode: section })).toEqual({
      provider: "linode",
      address: "192.0.2.7",
      sshPort: 2222,
    });
  });

  it("keeps the provider's own port, else none (22), when the module names no ssh_port", () => {
    expect(hostSection({ ...info, sshPort: 2200 }).ssh_port).toBe(2200);
    expect(hostSection(info)).not.toHaveProperty("ssh_port");
  });
});
