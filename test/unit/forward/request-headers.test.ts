import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { describe, it } from "node:test";
import { trustedRequestId, upstreamHeaders } from "../../../src/forward/request-headers.ts";

/** Just the fields upstreamHeaders reads, built as Node would from raw header lines. */
function request(raw: [string, string][]): IncomingMessage {
  const headers: Record<string, string> = {};
  for (const [k, v] of raw) {
    const key = k.toLowerCase();
    headers[key] = headers[key] ? `${headers[key]}, ${v}` : v;
  }
  return { rawHeaders: raw.flat(), headers } as unknown as IncomingMessage;
}

function asMap(flat: string[]): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (let i = 0; i < flat.length; i += 2) {
    const key = flat[i]!.toLowerCase();
    map.set(key, [...(map.get(key) ?? []), flat[i + 1]!]);
  }
  return map;
}

const facts = {
  requestId: "rid-1",
  peerIp: "198.51.100.7",
  peerTrusted: false,
  userHeader: null,
  extra: null,
  dropCookies: [],
  dropAuthorization: false,
  posture: false,
};

describe("headers sent to the app", () => {
  it("removes hop-by-hop headers and the names Connection lists (RFC 9110 7.6.1)", () => {
    const out = asMap(
      upstreamHeaders(
        request([
          ["Host", "shop.example"],
          ["Connection", "keep-alive, X-Secret-Hop"],
          ["Keep-Alive", "timeout=5"],
          ["X-Secret-Hop", "1"],
          ["TE", "trailers"],
          ["Proxy-Authorization", "Basic x"],
          ["Upgrade", "h2c"],
          ["Expect", "100-continue"],
          ["Accept", "text/html"],
        ]),
        facts,
      ),
    );
    for (const gone of [
      "connection",
      "keep-alive",
      "x-secret-hop",
      "te",
      "proxy-authorization",
      "upgrade",
      "expect",
    ]) {
      assert.equal(out.has(gone), false, gone);
    }
    assert.deepEqual(out.get("host"), ["shop.example"]);
    assert.deepEqual(out.get("accept"), ["text/html"]);
  });

  it("never passes a client's Gatehouse-* header to the app", () => {
    const out = asMap(
      upstreamHeaders(
        request([
          ["Gatehouse-User", "admin"],
          ["gatehouse-event", "IE1"],
          ["X-Gatehouse", "kept"],
        ]),
        facts,
      ),
    );
    assert.equal(out.has("gatehouse-user"), false);
    assert.equal(out.has("gatehouse-event"), false);
    assert.deepEqual(out.get("x-gatehouse"), ["kept"]);
  });

  it("rewrites forwarding headers from an untrusted client instead of passing them on", () => {
    const out = asMap(
      upstreamHeaders(
        request([
          ["Host", "shop.example"],
          ["X-Forwarded-For", "1.2.3.4"],
          ["X-Forwarded-Proto", "https"],
          ["X-Forwarded-Host", "evil.example"],
          ["Forwarded", "for=1.2.3.4"],
          ["X-Request-Id", "client-chosen"],
        ]),
        facts,
      ),
    );
    assert.deepEqual(out.get("x-forwarded-for"), ["198.51.100.7"]);
    assert.deepEqual(out.get("x-forwarded-proto"), ["http"]);
    assert.deepEqual(out.get("x-forwarded-host"), ["shop.example"]);
    assert.equal(out.has("forwarded"), false);
    assert.deepEqual(out.get("x-request-id"), ["rid-1"]);
  });

  it("extends a trusted proxy's chain and keeps its proto and host", () => {
    const out = asMap(
      upstreamHeaders(
        request([
          ["Host", "internal:8080"],
          ["X-Forwarded-For", "203.0.113.5, 10.0.0.9"],
          ["X-Forwarded-Proto", "https"],
          ["X-Forwarded-Host", "shop.example"],
          ["Forwarded", "for=203.0.113.5"],
        ]),
        { ...facts, peerIp: "10.0.0.2", peerTrusted: true },
      ),
    );
    assert.deepEqual(out.get("x-forwarded-for"), ["203.0.113.5, 10.0.0.9, 10.0.0.2"]);
    assert.deepEqual(out.get("x-forwarded-proto"), ["https"]);
    assert.deepEqual(out.get("x-forwarded-host"), ["shop.example"]);
    assert.deepEqual(out.get("forwarded"), ["for=203.0.113.5"]);
  });

  it("drops the user header unless a trusted proxy set it", () => {
    const req = request([["X-Authenticated-User", "alice"]]);
    assert.equal(
      asMap(upstreamHeaders(req, { ...facts, userHeader: "x-authenticated-user" })).has(
        "x-authenticated-user",
      ),
      false,
    );
    assert.deepEqual(
      asMap(upstreamHeaders(req, { ...facts, userHeader: "x-authenticated-user", peerTrusted: true })).get(
        "x-authenticated-user",
      ),
      ["alice"],
    );
  });

  it("replaces the client's traceparent when Gatehouse injects its own span", () => {
    const out = asMap(
      upstreamHeaders(request([["traceparent", "00-aaaa-bbbb-01"]]), {
        ...facts,
        extra: { traceparent: "00-cccc-dddd-01" },
      }),
    );
    assert.deepEqual(out.get("traceparent"), ["00-cccc-dddd-01"]);
  });
});

describe("X-Real-IP", () => {
  it("reaches the app only from a trusted proxy: any client could write it", () => {
    const req = request([["X-Real-IP", "10.9.9.9"]]);
    assert.equal(asMap(upstreamHeaders(req, facts)).has("x-real-ip"), false);
    assert.deepEqual(asMap(upstreamHeaders(req, { ...facts, peerTrusted: true })).get("x-real-ip"), [
      "10.9.9.9",
    ]);
  });
});

describe("what decisions change in the forwarded request", () => {
  it("logout takes the revoked session cookie out of Cookie and keeps the others", () => {
    const req = request([["Cookie", "theme=dark; sid=abc123; lang=en"]]);
    assert.deepEqual(asMap(upstreamHeaders(req, { ...facts, dropCookies: ["sid"] })).get("cookie"), [
      "theme=dark; lang=en",
    ]);
    const only = request([["Cookie", "sid=abc123"]]);
    assert.equal(asMap(upstreamHeaders(only, { ...facts, dropCookies: ["sid"] })).has("cookie"), false);
  });

  it("logout of a bearer-token session does not forward Authorization", () => {
    const req = request([["Authorization", "Bearer t0ken"]]);
    assert.equal(
      asMap(upstreamHeaders(req, { ...facts, dropAuthorization: true })).has("authorization"),
      false,
    );
    assert.deepEqual(asMap(upstreamHeaders(req, facts)).get("authorization"), ["Bearer t0ken"]);
  });

  it("a flag decision says Gatehouse-Posture: elevated; a client cannot say it itself", () => {
    const req = request([["Gatehouse-Posture", "normal"]]);
    assert.equal(asMap(upstreamHeaders(req, facts)).has("gatehouse-posture"), false);
    assert.deepEqual(asMap(upstreamHeaders(req, { ...facts, posture: true })).get("gatehouse-posture"), [
      "elevated",
    ]);
  });
});

describe("request id", () => {
  it("keeps a sane id from a trusted proxy only", () => {
    const req = request([["X-Request-Id", "lb-1234"]]);
    assert.equal(trustedRequestId(req, true), "lb-1234");
    assert.equal(trustedRequestId(req, false), null);
    assert.equal(trustedRequestId(request([["X-Request-Id", "bad id\u0000"]]), true), null);
    assert.equal(trustedRequestId(request([["X-Request-Id", "x".repeat(129)]]), true), null);
  });
});
