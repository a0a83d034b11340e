/**
 * What a VMware template with cloud-init's VMware datasource (or its OVF/guestinfo one) reads at
 * first boot: `guestinfo.metadata` and `guestinfo.userdata` in the VM's extraConfig, base64
 * encoded. The userdata lets jarvis's deploy key and the design's keys in for root and the
 * template's default user, and names the host.
 */
import { dumpYaml } from "../clipboard/yaml.js";
import type { HostSpec } from "./provider.js";

/** How a template takes its first-boot settings: cloud-init through guestinfo, or not at all. */
export const GUESTINFO_MODES = ["cloud-init", "none"] as const;
export type GuestinfoMode = (typeof GUESTINFO_MODES)[number];

/** The extraConfig entries for a new VM (empty for templates without cloud-init). */
export function guestinfoFor(spec: HostSpec, mode: GuestinfoMode): [string, string][] {
  if (mode === "none") return [];
  const base64 = (text: string): string => Buffer.from(text, "utf8").toString("base64");
  const metadata = dumpYaml({
    "instance-id": spec.hostname,
    "local-hostname": spec.hostname,
  });
  const userdata: Record<string, unknown> = {
    hostname: spec.hostname,
    // Root logs in with a key (later steps ssh as root); passwords stay off.
    disable_root: false,
    ssh_pwauth: false,
    ssh_authorized_keys: spec.sshPublicKeys,
  };
  if (spec.fqdn) userdata.fqdn = spec.fqdn;
  return [
    ["guestinfo.metadata", base64(metadata)],
    ["guestinfo.metadata.encoding", "base64"],
    ["guestinfo.userdata", base64(`#cloud-config\n${dumpYaml(userdata)}`)],
    ["guestinfo.userdata.encoding", "base64"],
  ];
}
