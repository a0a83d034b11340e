// How designs' provider-neutral fields (size in MB, guestid) become Linode plans/images and EC2 types/AMIs.
import { describe, expect, it } from "vitest";
import { linodeImage, linodeInfo, linodeType } from "../../../src/providers/linode.js";
import { clientToken, ec2Image, ec2State, ec2Type } from "../../../src/providers/ec2.js";

describe("Linode mapping", () => {
  it("picks the smallest plan with the memory asked for, or takes a plan id as is", () => {
    expect(linodeType(1024)).toBe("g6-nanode-1");
    expect(linodeType(1500)).toBe("g6-standard-1");
    expect(linodeType("g6-dedicated-2")).toBe("g6-dedicated-2");
    expect(linodeType(undefined)).toBeUndefined();
    expect(() => linodeType(1_000_000)).toThrow(/no plan has 1000000 MB/);
  });

  it("maps guestids to images", () => {
    expect(linodeImage("debian-12")).toBe("linode/debian12");
    expect(linodeImage("linode/ubuntu24.04")).toBe("linode/ubuntu24.04");
    expect(linodeImage("golden", { golden: "private/1234" })).toBe("private/1234");
  });

  it("prefers a public address and drops the IPv6 prefix length", () => {
    const info = linodeInfo({
      id: 7,
      label: "x",
      status: "running",
      ipv4: ["192.168.130.4", "203.0.113.9"],
      ipv6: "2001:db8::9/128",
    });
    expect(info).toEqual({ id: "7", label: "x", state: "running", ipv4: "203.0.113.9", ipv6: "2001:db8::9" });
  });
});

describe("EC2 mapping", () => {
  it("picks instance types by memory and AMIs by guestid", () => {
    expect(ec2Type(2048)).toBe("t3.small");
    expect(ec2Type("m5.large")).toBe("m5.large");
    expect(ec2Image("ami-0abc1234")).toBe("ami-0abc1234");
    expect(ec2Image("debian-12", { "debian-12": "ami-0def5678" })).toBe("ami-0def5678");
    expect(() => ec2Image("debian-12")).toThrow(/modules\.ec2\.with\.images/);
  });

  it("maps states and makes ClientTokens stable per host and run, different across runs", () => {
    expect(ec2State("pending")).toBe("provisioning");
    expect(ec2State("stopped")).toBe("offline");
    expect(ec2State("terminated")).toBe("deleted");
    expect(clientToken("hel", "run-1")).toBe(clientToken("hel", "run-1"));
    expect(clientToken("hel", "run-1")).not.toBe(clientToken("hel", "run-2"));
    expect(clientToken("hel", "run-1").length).toBeLessThanOrEqual(64);
  });
});
