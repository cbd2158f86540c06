/** Paths are matched as the app reads them, so encodings and dot segments cannot slip past a disable. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { normalizePath } from "../../../src/enforce/normalize-path.ts";

describe("normalizePath", () => {
  it("leaves ordinary paths alone, the same string", () => {
    for (const p of ["/", "/upload/a", "/a.b/c..d", "/api/v1/items"]) assert.equal(normalizePath(p), p);
  });

  it("removes dot segments and decodes unreserved escapes, as the app would", () => {
    assert.equal(normalizePath("/upload/./x"), "/upload/x");
    assert.equal(normalizePath("/a/b/../upload/x"), "/a/upload/x");
    assert.equal(normalizePath("/../../upload"), "/upload");
    assert.equal(normalizePath("/%75pload/x"), "/upload/x");
    assert.equal(normalizePath("/%2e%2E/upload/%2e/x"), "/upload/x");
    assert.equal(normalizePath("/upload/."), "/upload");
  });

  it("reads the path as lenient routers do: case, trailing and doubled slashes, ;parameters", () => {
    assert.equal(normalizePath("/UPLOAD/a"), "/upload/a");
    assert.equal(normalizePath("/%55pload/a"), "/upload/a");
    assert.equal(normalizePath("/upload/a/"), "/upload/a");
    assert.equal(normalizePath("//upload///a"), "/upload/a");
    assert.equal(normalizePath("/upload;jsessionid=1/a;x"), "/upload/a");
  });

  it("keeps escapes that change the structure: an encoded slash is not a separator", () => {
    assert.equal(normalizePath("/upload%2fx"), "/upload%2fx");
    assert.equal(normalizePath("/a%00b"), "/a%00b");
  });

  it("always gives an absolute path without dot segments, never throwing", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (tail) => {
        const out = normalizePath(`/${tail}`);
        assert.ok(out.startsWith("/"));
        assert.ok(!out.split("/").includes("..") && !out.split("/").includes("."));
        assert.equal(normalizePath(out), out, "normalising twice changes nothing");
      }),
    );
  });
});
