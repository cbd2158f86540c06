/**
 * The index's allocation-free reading of plain IPv4 decisions must file them exactly where the
 * ipaddr.js path (parseCidr, parseIp) would, and hand it everything it is not sure of.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parseCidr, parseIp } from "../../../src/actor/cidr.ts";
import { plainIpv4 } from "../../../src/enforce/decision-index.ts";

const octet = fc.integer({ min: 0, max: 255 });
const canonical = fc.tuple(octet, octet, octet, octet).map((o) => o.join("."));
const odd = fc.oneof(
  fc.tuple(octet, octet, octet, octet).map((o) => o.map((x) => `0${x}`).join(".")),
  fc.tuple(octet, octet, octet).map((o) => o.join(".")),
  fc.tuple(octet, octet, octet, fc.integer({ min: 256, max: 999 })).map((o) => o.join(".")),
  fc.tuple(octet, octet, octet, octet).map((o) => `0x${o[0].toString(16)}.${o.slice(1).join(".")}`),
  fc.constantFrom("", ".", "1..2.3", "1.2.3.4.", " 1.2.3.4", "1.2.3.4 ", "::ffff:1.2.3.4", "2001:db8::1"),
  fc.string({ maxLength: 20 }),
);
const prefix = fc.oneof(
  fc.integer({ min: 0, max: 32 }).map(String),
  fc.constantFrom("", "033", "08", "33", "99", "-1", "1a", " 8", "100"),
);

function bytesWord(bytes: number[]): number {
  return (bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!;
}

describe("plain IPv4 decisions", () => {
  it("reads a range as parseCidr does, or hands it on", () => {
    fc.assert(
      fc.property(fc.oneof(canonical, odd), prefix, (address, bits) => {
        const value = `${address}/${bits}`;
        const words = new Int32Array(4);
        const got = plainIpv4("range", value, words);
        if (got === -1) return;
        const want = parseCidr(value);
        assert.ok(typeof want !== "string", `${value} taken, but parseCidr refuses it`);
        assert.equal(want.kind, "ipv4");
        assert.equal(got & 63, want.prefix);
        assert.equal(words[0], bytesWord(want.bytes), value);
        assert.equal(got < 64, want.text === value, `${value}: canonical or not`);
      }),
      { numRuns: 2000 },
    );
  });

  it("reads an address as parseIp does, or hands it on", () => {
    fc.assert(
      fc.property(fc.oneof(canonical, odd), (value) => {
        const words = new Int32Array(4);
        const got = plainIpv4("ip", value, words);
        if (got === -1) return;
        const want = parseIp(value);
        assert.ok(want !== null && want.kind() === "ipv4", `${value} taken, but not an IPv4 address`);
        assert.equal(got, 32);
        assert.equal(words[0], bytesWord(want.toByteArray()));
        assert.equal(want.toString(), value);
      }),
      { numRuns: 2000 },
    );
  });

  it("takes every canonical address and range itself (the point of it)", () => {
    fc.assert(
      fc.property(canonical, fc.integer({ min: 0, max: 32 }), (address, bits) => {
        const words = new Int32Array(4);
        assert.equal(plainIpv4("ip", address, words), 32);
        assert.notEqual(plainIpv4("range", `${address}/${bits}`, words), -1);
      }),
    );
  });

  it("leaves octal-looking, hex, short and over-long forms to ipaddr.js", () => {
    const words = new Int32Array(4);
    for (const value of ["010.0.0.1", "0x0a.0.0.1", "10.1", "10.0.0.256", "10.0.0.1 ", "::ffff:10.0.0.1"])
      assert.equal(plainIpv4("ip", value, words), -1, value);
    for (const value of [
      "10.0.0.0/033",
      "10.0.0.0/08",
      "10.0.0.0/33",
      "10.0.0.0",
      "10.0.0.0/",
      "10.0.0.0/8/8",
    ])
      assert.equal(plainIpv4("range", value, words), -1, value);
  });
});
