/**
 * The agents' stores contract: the NodeStore, JobStore and JobControl cases, registered for one fleet store
 * kind by a test file that hands factories of fresh, empty stores (the contract closes them).
 */
import { afterEach, describe } from "vitest";
import type { FleetStore } from "../../src/nodes/fleet-store.js";
import { nodeStoreContract } from "./node-store.contract.js";
import type { FleetFactory, FleetTwinFactory } from "./node-store.contract.js";
import { jobStoreContract } from "./job-store.contract.js";
import { jobControlContract } from "./job-control.contract.js";

export function fleetStoreContract(name: string, factory: FleetFactory, twins: FleetTwinFactory): void {
  describe(`fleet store contract: ${name}`, () => {
    const open: FleetStore[] = [];
    const fresh = async (): Promise<FleetStore> => {
      const store = await factory();
      open.push(store);
      return store;
    };
    const freshTwins = async (): Promise<[FleetStore, FleetStore]> => {
      const pair = await twins();
      open.push(...pair);
      return pair;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((s) => s.close()));
    });
    describe("NodeStore", () => nodeStoreContract(fresh, freshTwins));
    describe("JobStore", () => jobStoreContract(fresh, freshTwins));
    describe("JobControl", () => jobControlContract(fresh, freshTwins));
  });
}
