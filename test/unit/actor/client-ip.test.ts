import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compileMatcher, parseCidrList } from "../../../src/actor/cidr.ts";
import { forwardedFor, resolveClientIp } from "../../../src/actor/client-ip.ts";

const trust = (...cidrs: string[]) => compileMatcher(parseCidrList(cidrs).cidrs);

describe("client IP without trusted proxies", () => {
  it("a client's own X-Forwarded-For is ignored: it is identified by its socket address", () => {
    const who = resolveClientIp("198.51.100.7", "1.1.1.1, 10.0.0.1", undefined, null);
    assert.deepEqual(who, { ip: "198.51.100.7", peer: "198.51.100.7", peerTrusted: false });
  });

  it("a client's own Forwarded header is ignored", () => {
    assert.equal(resolveClientIp("198.51.100.7", undefined, "for=1.1.1.1", null).ip, "198.51.100.7");
  });

  it("an untrusted peer's headers are ignored even when other proxies are trusted", () => {
    assert.equal(
      resolveClientIp("198.51.100.7", "1.1.1.1", undefined, trust("10.0.0.0/8")).ip,
      "198.51.100.7",
    );
  });

  it("normalises an IPv4-mapped peer", () => {
    assert.equal(resolveClientIp("::ffff:198.51.100.7", undefined, undefined, null).ip, "198.51.100.7");
  });
});

describe("client IP behind trusted proxies", () => {
  const proxies = trust("10.0.0.0/8", "2001:db8:ffff::/48");

  it("walks X-Forwarded-For right to left to the first untrusted address", () => {
    // The left-most entry is whatever the client wrote; only the right part was added by our proxies.
    const who = resolveClientIp("10.0.0.2", "6.6.6.6, 203.0.113.5, 10.0.0.9", undefined, proxies);
    assert.deepEqual(who, { ip: "203.0.113.5", peer: "10.0.0.2", peerTrusted: true });
  });

  it("takes the left-most address when every hop is trusted", () => {
    assert.equal(resolveClientIp("10.0.0.2", "10.1.1.1, 10.0.0.9", undefined, proxies).ip, "10.1.1.1");
  });

  it("uses the peer when a trusted proxy sent no forwarding header", () => {
    assert.equal(resolveClientIp("10.0.0.2", undefined, undefined, proxies).ip, "10.0.0.2");
  });

  it("stops at a hop that is not an address, keeping the last verified one", () => {
    assert.equal(
      resolveClientIp("10.0.0.2", "203.0.113.5, unknown, 10.0.0.9", undefined, proxies).ip,
      "10.0.0.9",
    );
    assert.equal(resolveClientIp("10.0.0.2", "garbage", undefined, proxies).ip, "10.0.0.2");
  });

  it("accepts ports, brackets and IPv6 hops, and normalises mapped addresses", () => {
    assert.equal(resolveClientIp("10.0.0.2", "203.0.113.5:4711", undefined, proxies).ip, "203.0.113.5");
    assert.equal(resolveClientIp("10.0.0.2", "[2001:db8::17]:443", undefined, proxies).ip, "2001:db8::17");
    assert.equal(resolveClientIp("10.0.0.2", "::ffff:203.0.113.5", undefined, proxies).ip, "203.0.113.5");
    assert.equal(resolveClientIp("2001:db8:ffff::1", "2001:db8::17", undefined, proxies).ip, "2001:db8::17");
  });

  it("reads RFC 7239 Forwarded when there is no X-Forwarded-For", () => {
    const header = 'for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https, for=10.0.0.3;by=10.0.0.2';
    assert.equal(resolveClientIp("10.0.0.2", undefined, header, proxies).ip, "2001:db8:cafe::17");
  });

  it("bounds the walk over a hostile chain of trusted-looking hops", () => {
    const chain = Array.from({ length: 5000 }, () => "10.0.0.1").join(", ");
    const who = resolveClientIp("10.0.0.2", `203.0.113.5, ${chain}`, undefined, proxies);
    assert.equal(who.ip, "10.0.0.1", "stops after a bounded number of hops instead of walking 5000");
  });
});

describe("Forwarded header parsing", () => {
  it("finds for= in each element, case-insensitively, with quoted commas", () => {
    assert.deepEqual(forwardedFor('For="[::1]:80";by="a,b", for=192.0.2.1'), ['"[::1]:80"', "192.0.2.1"]);
  });
});
