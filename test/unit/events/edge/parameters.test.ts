/**
 * Parameter decoding for edge detection: percent-decoding once and never throwing, pairs of a
 * query or an urlencoded body, strings of a JSON body by path, and the body kinds scanned.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  bodyKind,
  forEachJsonString,
  forEachPair,
  JSON_VALUES_MAX,
  NAME_MAX,
  percentDecode,
} from "../../../../src/events/edge/parameters.ts";

const pairs = (text: string) => {
  const out: [string, string, string][] = [];
  forEachPair(text, (name, raw, value) => {
    out.push([name, raw, value]);
    return false;
  });
  return out;
};

const strings = (text: string) => {
  const out: [string, string][] = [];
  forEachJsonString(text, (name, _raw, value) => {
    out.push([name, value]);
    return false;
  });
  return out;
};

describe("percentDecode", () => {
  it("decodes once, UTF-8, plus as space where forms mean it", () => {
    assert.equal(percentDecode("a%20b+c", true), "a b c");
    assert.equal(percentDecode("a+b", false), "a+b");
    assert.equal(percentDecode("caf%C3%A9", true), "café");
    assert.equal(percentDecode("%253C", true), "%3C");
  });

  it("keeps malformed escapes as written and turns invalid UTF-8 into U+FFFD", () => {
    assert.equal(percentDecode("100%", true), "100%");
    assert.equal(percentDecode("%zz%4", true), "%zz%4");
    assert.equal(percentDecode("%ff%c0%ae", true), "\ufffd\ufffd\ufffd");
    assert.equal(percentDecode("plain", true), "plain");
  });
});

describe("forEachPair", () => {
  it("splits on & and the first =, decoding names and values", () => {
    assert.deepEqual(pairs("q=O%27Brien&empty=&flag&a=b=c&&x%5By%5D=1"), [
      ["q", "O%27Brien", "O'Brien"],
      ["empty", "", ""],
      ["flag", "", ""],
      ["a", "b=c", "b=c"],
      ["x[y]", "1", "1"],
    ]);
  });

  it("bounds names and visits 10 000 pairs", () => {
    assert.equal(pairs(`${"n".repeat(10_000)}=v`)[0]![0].length, NAME_MAX);
    assert.equal(pairs(Array.from({ length: 10_000 }, (_, i) => `a${i}=1`).join("&")).length, 10_000);
  });
});

describe("forEachJsonString", () => {
  it("names strings by their path", () => {
    assert.deepEqual(strings('{"user":{"name":"x"},"tags":["a",1,"b"],"n":5,"ok":true}'), [
      ["user.name", "x"],
      ["tags[0]", "a"],
      ["tags[2]", "b"],
    ]);
    assert.deepEqual(strings('"top"'), [["*", "top"]]);
  });

  it("scans invalid or cut JSON as text, and bounds what a huge document costs", () => {
    assert.deepEqual(strings('{"a":"<script>'), [["*", '{"a":"<script>']]);
    assert.equal(strings(JSON.stringify(Array.from({ length: 50_000 }, () => "s"))).length, JSON_VALUES_MAX);
    strings(`${"[".repeat(200_000)}${"]".repeat(200_000)}`);
  });
});

describe("bodyKind", () => {
  it("knows urlencoded forms, JSON and multipart forms, with parameters and +json types", () => {
    assert.equal(bodyKind("application/x-www-form-urlencoded; charset=UTF-8"), "form");
    assert.equal(bodyKind("Application/JSON"), "json");
    assert.equal(bodyKind("application/vnd.api+json"), "json");
    assert.equal(bodyKind("Multipart/Form-Data; boundary=x"), "multipart");
    assert.equal(bodyKind("multipart/mixed; boundary=x"), null);
    assert.equal(bodyKind("text/plain"), null);
    assert.equal(bodyKind(undefined), null);
  });
});
