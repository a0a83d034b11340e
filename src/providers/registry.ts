/**
 * The provider step modules, registered explicitly (DESIGN.md convention 2). A pipeline step
 * `provider:<task>` is resolved at run time to the module named by the design's `instance.provider`.
 */
import type { BuiltinModule } from "../workers/registry.js";
import { PROVIDER_TASKS } from "./provider.js";
import { ec2Params, linodeParams, localParams, vmwareParams } from "./provider-params.js";

/** Every built-in provider step module, by provider name. Paths are relative to this directory. */
export const builtinProviders: Readonly<Record<string, BuiltinModule>> = {
  local: {
    file: "./local-step.js",
    tasks: PROVIDER_TASKS,
    summary: "a host on this machine: its own sshd on a loopback port",
    params: localParams,
  },
  linode: {
    file: "./linode-step.js",
    tasks: PROVIDER_TASKS,
    summary: "a Linode through the Linode API v4 (token in LINODE_TOKEN)",
    params: linodeParams,
  },
  ec2: {
    file: "./ec2-step.js",
    tasks: PROVIDER_TASKS,
    summary: "an EC2 instance through the AWS SDK (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)",
    params: ec2Params,
  },
  vmware: {
    file: "./vmware-step.js",
    tasks: PROVIDER_TASKS,
    summary: "a VM cloned from a template in vCenter or on ESX (VSPHERE_USER / VSPHERE_PASSWORD)",
    params: vmwareParams,
  },
};
