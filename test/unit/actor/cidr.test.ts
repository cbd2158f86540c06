import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  compileMatcher,
  ipv4ToUint32,
  normalizeIp,
  parseCidr,
  parseCidrList,
} from "../../../src/actor/cidr.ts";

function matcher(...cidrs: string[]) {
  const { cidrs: parsed, errors } = parseCidrList(cidrs);
  assert.deepEqual(errors, []);
  return compileMatcher(parsed);
}

describe("CIDR parsing", () => {
  it("canonicalises networks and host routes", () => {
    assert.equal((parseCidr("203.0.113.77/24") as { text: string }).text, "203.0.113.0/24");
    assert.equal((parseCidr("10.1.2.3") as { text: string }).text, "10.1.2.3/32");
    assert.equal((parseCidr("2001:db8:0:0:1::1/64") as { text: string }).text, "2001:db8::/64");
  });

  it("maps IPv4-mapped IPv6 networks onto IPv4", () => {
    assert.equal((parseCidr("::ffff:192.0.2.0/120") as { text: string }).text, "192.0.2.0/24");
  });

  it("explains what is wrong", () => {
    assert.match(parseCidr("10.0.0.0/33") as string, /invalid prefix length \(0-32 for ipv4\)/);
    assert.match(parseCidr("2001:db8::/129") as string, /invalid prefix length \(0-128 for ipv6\)/);
    assert.match(parseCidr("300.1.1.1/8") as string, /is not an IP address or CIDR/);
    assert.match(parseCidr("example.com") as string, /is not an IP address or CIDR/);
    assert.match(parseCidr("10.0.0.0/x") as string, /invalid prefix length/);
  });

  it("expands keywords", () => {
    const { cidrs } = parseCidrList(["loopback"]);
    assert.deepEqual(
      cidrs.map((c) => c.text),
      ["127.0.0.0/8", "::1/128"],
    );
  });
});

describe("compiled matcher", () => {
  it("matches IPv4 networks at their boundaries", () => {
    const m = matcher("10.0.0.0/8", "192.168.1.0/24");
    assert.equal(m("10.255.255.255"), true);
    assert.equal(m("11.0.0.0"), false);
    assert.equal(m("192.168.1.200"), true);
    assert.equal(m("192.168.2.1"), false);
  });

  it("matches IPv6 networks, including odd prefix lengths", () => {
    const m = matcher("2001:db8:abcd::/47");
    assert.equal(m("2001:db8:abcd:1::1"), true);
    assert.equal(m("2001:db8:abce::1"), false);
    assert.equal(m("10.0.0.1"), false);
  });

  it("0.0.0.0/0 matches every IPv4 address and no IPv6 one", () => {
    const m = matcher("0.0.0.0/0");
    assert.equal(m("255.255.255.255"), true);
    assert.equal(m("::1"), false);
  });

  it("never matches garbage", () => {
    const m = matcher("0.0.0.0/0", "::/0");
    for (const junk of [
      "",
      "1.2.3",
      "1.2.3.4.5",
      "01.2.3.999",
      "not-an-ip",
      "1.2.3.4 ",
      "x".repeat(10_000),
    ]) {
      assert.equal(m(junk), false, junk.slice(0, 20));
    }
  });
});

describe("address helpers", () => {
  it("normalises IPv4-mapped IPv6 to IPv4 and leaves others alone", () => {
    assert.equal(normalizeIp("::ffff:203.0.113.9"), "203.0.113.9");
    assert.equal(normalizeIp("::ffff:abcd"), "::ffff:abcd");
    assert.equal(normalizeIp("2001:db8::1"), "2001:db8::1");
  });

  it("parses dotted quads strictly", () => {
    assert.equal(ipv4ToUint32("255.255.255.255"), 0xffffffff);
    assert.equal(ipv4ToUint32("1.2.3.4"), 0x01020304);
    assert.equal(ipv4ToUint32("1.2.3.256"), -1);
    assert.equal(ipv4ToUint32("1..2.3"), -1);
    assert.equal(ipv4ToUint32("1.2.3.4."), -1);
  });
});
