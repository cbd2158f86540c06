import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { findSession, getCookie, sessionHasher } from "../../../src/actor/session.ts";

const DEFAULT_COOKIES = ["sid", "connect.sid", "session", "JSESSIONID", "PHPSESSID"];

describe("session", () => {
  it("takes the first configured cookie present, in configured order", () => {
    const s = findSession("theme=dark; JSESSIONID=j1; sid=s1", undefined, DEFAULT_COOKIES);
    assert.deepEqual(s, { kind: "cookie", name: "sid", value: "s1" });
  });

  it("does not confuse a cookie whose name ends with a configured one", () => {
    assert.equal(findSession("notsid=evil", undefined, ["sid"]), null);
  });

  it("falls back to the bearer token", () => {
    assert.deepEqual(findSession("theme=dark", "Bearer abc.def", DEFAULT_COOKIES), {
      kind: "bearer",
      name: "authorization",
      value: "abc.def",
    });
    assert.equal(findSession(undefined, "Basic dXNlcjpwYXNz", DEFAULT_COOKIES), null);
  });

  it("ignores empty cookie values", () => {
    assert.equal(findSession("sid=; other=1", undefined, ["sid"]), null);
  });

  it("reads quoted and spaced cookie values", () => {
    assert.equal(getCookie('a=1;  sid = "q v" ;b=2', "sid"), "q v");
    assert.equal(getCookie("a=1;;;sid=x", "sid"), "x");
    assert.equal(getCookie("garbage without pairs", "sid"), null);
  });

  it("hashes session ids with a key: stable for one key, different across keys, never the raw value", () => {
    const a = sessionHasher("k".repeat(32));
    const b = sessionHasher("z".repeat(32));
    assert.equal(a("secret-session"), a("secret-session"));
    assert.notEqual(a("secret-session"), b("secret-session"));
    assert.ok(!a("secret-session").includes("secret"));
    assert.equal(a("x").length, 32);
  });
});
