/**
 * Reading the payload back out of the query: decoded exactly as edge detection decodes it, for
 * any input, hostile included, whether or not the fast ASCII path applies.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { percentDecode } from "../../../../src/events/edge/parameters.ts";
import { decodeValue, queryValue } from "../../../../src/events/evidence/flagged-scan.ts";

function random(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
}

describe("decodeValue", () => {
  it("decodes every value as edge detection's percentDecode does", () => {
    const next = random(5);
    const pieces = [
      "%",
      "%3C",
      "%3c",
      "%2",
      "%zz",
      "%E2%80%99",
      "%C3",
      "%FF",
      "+",
      "a",
      "<",
      "\xe9",
      "%00",
      "%7F",
      "%80",
    ];
    for (let i = 0; i < 20_000; i++) {
      let raw = "";
      const length = Math.floor(next() * 12);
      for (let k = 0; k < length; k++) raw += pieces[Math.floor(next() * pieces.length)];
      assert.equal(decodeValue(raw), percentDecode(raw, true), JSON.stringify(raw));
    }
  });

  it("returns a value without escapes as it is", () => {
    const raw = "blue-mug_42";
    assert.equal(decodeValue(raw), raw);
  });
});

describe("queryValue", () => {
  it("finds the first value of the parameter that holds the matched text", () => {
    assert.equal(queryValue("/s?q=a&q=b%3Cx&q=%3Cy", "q", "<"), "b<x");
    assert.equal(queryValue("/s?q=a", "q", "<"), null);
    assert.equal(queryValue("/s", "q", ""), null);
    assert.equal(queryValue("/s?%71=1", "q", "1"), "1", "an encoded name");
    assert.equal(queryValue("/s?q", "q", ""), "", "a name without a value");
  });

  it("names a parameter as edge detection does: at most 64 characters", () => {
    const long = "n".repeat(100);
    assert.equal(queryValue(`/s?${long}=<x>`, "n".repeat(64), "<x>"), "<x>");
  });

  it("never throws on hostile query strings, and reads ten thousand parameters in one pass", () => {
    for (const target of ["/s?", "/s?&&&", "/s?=", "/s?==&=", "/s?%", `/s?q=${"%".repeat(100_000)}`]) {
      assert.doesNotThrow(() => queryValue(target, "q", "x"));
    }
    const many = `/s?${"a=1&".repeat(10_000)}q=%3Cb%3E`;
    assert.equal(queryValue(many, "q", "<b>"), "<b>");
  });
});
