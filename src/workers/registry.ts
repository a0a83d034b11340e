/**
 * The built-in step modules, registered explicitly in one typed map (DESIGN.md convention 2):
 * module name -> the compiled file that runs it and the tasks it offers. Paths are relative to
 * this file, so they hold in dist/ where the compiled steps are forked with plain `node`.
 * Importing this file loads zod and the parameter schemas: jarvis does, the step processes never.
 */
import type { z } from "zod";
import {
  agentParams,
  demoParams,
  dnsParams,
  inventoryParams,
  ldapParams,
  monitoringParams,
  productionParams,
  sshParams,
} from "./worker-params.js";

/** What jarvis knows about one built-in step module. */
export interface BuiltinModule {
  /** The compiled module file, relative to this directory. */
  file: string;
  /** Tasks the module offers; a pipeline naming another task is refused at load. */
  tasks: readonly string[];
  /** One line for `jarvis pipelines` and the README. */
  summary: string;
  /**
   * The `with` parameters every task of the module takes (a strict object of optional fields);
   * pipelines and jarvis.yml's `modules.<module>.with` are checked against it when loaded.
   */
  params: z.ZodObject;
}

/** Every built-in step module. Providers are listed in src/providers/registry.ts. */
export const builtinWorkers: Readonly<Record<string, BuiltinModule>> = {
  demo: {
    file: "./demo.js",
    tasks: ["greet", "flaky", "slow", "fail"],
    summary: "demonstration steps for the demo pipeline",
    params: demoParams,
  },
  ssh: {
    file: "./ssh.js",
    tasks: ["prepare", "wait", "keypair", "run"],
    summary: "deploy key, wait for SSH and record host keys, make root's keypair, run commands on the host",
    params: sshParams,
  },
  dns: {
    file: "./dns.js",
    tasks: ["update_host", "delete_host"],
    summary: "RFC 2136 update (TSIG) of the host's A/AAAA and SSHFP records, and their removal",
    params: dnsParams,
  },
  ldap: {
    file: "./ldap.js",
    tasks: ["update_host_ou", "delete_host"],
    summary: "create, update or delete the host's entry under ou=Hosts",
    params: ldapParams,
  },
  monitoring: {
    file: "./monitoring.js",
    tasks: ["suppress", "enable"],
    summary: "Alertmanager silence for the host (with a lease) and its removal",
    params: monitoringParams,
  },
  agent: {
    file: "./agent.js",
    tasks: ["install", "revoke"],
    summary:
      "install jarvis's agent (NATS user, files, systemd unit or local process) and wait until it is online; revoke its NATS user",
    params: agentParams,
  },
  production: {
    file: "./production.js",
    tasks: ["check", "migrate", "restore"],
    summary:
      "stop a redeploy of a production host unless forced or its services are listed; move their DNS names to the standbys and back",
    params: productionParams,
  },
  inventory: {
    file: "./inventory.js",
    tasks: ["query"],
    summary: "put the nodes a selector picks, with chosen facts, on the clipboard (inventory.<name>)",
    params: inventoryParams,
  },
};
