import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { compileRoute, compileRoutes } from "../../../src/enforce/route-matcher.ts";
import { route } from "../../../src/policy/scalars.ts";

function matches(pattern: string, method: string, path: string): boolean {
  const m = compileRoute(pattern);
  assert.ok(m, `${pattern} should compile`);
  return m.matches(method, path);
}

describe("route patterns", () => {
  it("`*` matches within one segment, never across `/`", () => {
    assert.equal(matches("POST /upload/*", "POST", "/upload/a"), true);
    assert.equal(matches("POST /upload/*", "POST", "/upload/"), true);
    assert.equal(matches("POST /upload/*", "POST", "/upload/a/b"), false);
    assert.equal(matches("POST /upload/*", "POST", "/upload"), false);
    assert.equal(matches("POST /upload/*", "POST", "/uploads/a"), false);
    assert.equal(matches("GET /files/*.pdf", "GET", "/files/report.pdf"), true);
    assert.equal(matches("GET /files/*.pdf", "GET", "/files/.pdf"), true);
    assert.equal(matches("GET /files/*.pdf", "GET", "/files/a/b.pdf"), false);
    assert.equal(matches("GET /files/*.pdf", "GET", "/files/report.pdfx"), false);
    assert.equal(matches("GET /a*b*c", "GET", "/aXbYc"), true);
    assert.equal(matches("GET /a*b*c", "GET", "/abc"), true);
    assert.equal(matches("GET /a*b*c", "GET", "/acb"), false);
    assert.equal(matches("GET /a*b*c", "GET", "/ab/c"), false);
    assert.equal(matches("GET /a*ab", "GET", "/aab"), true, "parts may not overlap, but may abut");
    assert.equal(matches("GET /a*ab", "GET", "/ab"), false);
  });

  it("`**` as a segment matches any number of segments, none included", () => {
    for (const path of ["/api", "/api/", "/api/items", "/api/items/42/edit"]) {
      assert.equal(matches("GET /api/**", "GET", path), true, path);
    }
    assert.equal(matches("GET /api/**", "GET", "/apix"), false);
    assert.equal(matches("GET /api/**", "GET", "/ap"), false);
    assert.equal(matches("GET /api/**", "GET", "/other/api/x"), false);
    for (const path of ["/a/b", "/a/x/b", "/a/x/y/b"])
      assert.equal(matches("GET /a/**/b", "GET", path), true, path);
    assert.equal(matches("GET /a/**/b", "GET", "/a/b/c"), false);
    assert.equal(matches("GET /a/**/b", "GET", "/ab"), false);
    assert.equal(matches("GET /**/admin/*", "GET", "/x/y/admin/panel"), true);
    assert.equal(matches("GET /**/admin/*", "GET", "/admin/panel"), true);
    assert.equal(matches("GET /**/admin/*", "GET", "/admin/panel/x"), false);
    assert.equal(matches("GET /**", "GET", "/"), true);
    assert.equal(matches("GET /**", "GET", "/anything/at/all"), true);
  });

  it("`**` inside a segment, and `***`, are a plain `*`", () => {
    assert.equal(matches("GET /static/**.js", "GET", "/static/app.js"), true);
    assert.equal(matches("GET /static/**.js", "GET", "/static/lib/app.js"), false);
    assert.equal(matches("GET /x/***", "GET", "/x/y"), true);
    assert.equal(matches("GET /x/***", "GET", "/x/y/z"), false);
  });

  it("literal paths match exactly, case-sensitively, and never a prefix", () => {
    assert.equal(matches("POST /login", "POST", "/login"), true);
    assert.equal(matches("POST /login", "POST", "/Login"), false);
    assert.equal(matches("POST /login", "POST", "/login/"), false);
    assert.equal(matches("POST /login", "POST", "/loginx"), false);
    assert.equal(matches("POST /login", "POST", "/"), false);
    assert.equal(matches("GET /", "GET", "/"), true);
    assert.equal(matches("GET /", "GET", "/x"), false);
  });

  it("METHOD is exact but ignores ASCII case; `*` is any method", () => {
    assert.equal(matches("POST /login", "post", "/login"), true);
    assert.equal(matches("POST /login", "GET", "/login"), false);
    assert.equal(matches("POST /login", "POSTX", "/login"), false);
    assert.equal(matches("POST /login", "", "/login"), false);
    assert.equal(matches("* /admin/*", "DELETE", "/admin/x"), true);
    assert.equal(matches("* /admin/*", "BREW", "/admin/x"), true);
  });

  it("compiles exactly the patterns the policy `route` scalar accepts", () => {
    const pathChar = fc.constantFrom(..."/abcXYZ09*._-~%!$&'()+,;=:@?# \"\\".split(""));
    const candidate = fc.oneof(
      fc
        .tuple(
          fc.constantFrom("GET", "POST", "*", "get", "X-1", "A_B", "1GET", "", "GET ", "**"),
          fc.constantFrom(" ", "", "  ", "\t"),
          fc.string({ unit: pathChar, maxLength: 20 }),
        )
        .map(([m, sep, p]) => `${m}${sep}${p}`),
      fc.string({ maxLength: 30 }),
    );
    fc.assert(
      fc.property(candidate, (text) => {
        assert.equal(compileRoute(text) !== null, route.parse(text).ok, JSON.stringify(text));
      }),
      { numRuns: 5_000 },
    );
    assert.notEqual(compileRoute(`GET /${"a".repeat(1023)}`), null, "as long as the policy allows");
    assert.equal(compileRoute(`GET /${"a".repeat(1024)}`), null, "longer than the policy allows");
  });

  it("a route list matches when any pattern does; bad entries are left out", () => {
    const m = compileRoutes(["POST /upload/*", "not a route", "GET /api/**"]);
    assert.ok(m);
    assert.equal(m.matches("POST", "/upload/x"), true);
    assert.equal(m.matches("GET", "/api/x/y"), true);
    assert.equal(m.matches("GET", "/upload/x"), false);
    assert.equal(compileRoutes([]), null);
    assert.equal(compileRoutes(null), null);
    assert.equal(compileRoutes(["nope", 42 as unknown as string]), null);
  });

  it("hostile paths and methods: no throw, and time linear in the path", () => {
    const m = compileRoute("GET /**/a*a*a*a*b/**/c*d")!;
    const paths = [
      `/${"a".repeat(10_000)}`,
      `/${"a/".repeat(5_000)}`,
      `/${"aaaa/".repeat(2_000)}c`,
      "/".repeat(10_000),
      "",
      "no-leading-slash",
      "\u0000\uffff\ud800",
    ];
    const started = performance.now();
    for (const path of paths) {
      assert.equal(m.matches("GET", path), false);
      assert.equal(compileRoute("GET /api/**")!.matches("GET", path), false);
    }
    for (const bad of [null, undefined, 42, {}]) {
      assert.equal(m.matches(bad as unknown as string, "/a"), false);
      assert.equal(m.matches("GET", bad as unknown as string), false);
    }
    assert.ok(performance.now() - started < 1000, "hostile paths took over a second");
  });

  it("agrees with a reference regular expression on random patterns and paths", () => {
    // The reference: the same semantics as a (slow, backtracking) RegExp.
    const toRegExp = (path: string): RegExp => {
      const segs = path.split("/").slice(1);
      let source = "";
      segs.forEach((seg, i) => {
        if (seg === "**") {
          source += i === segs.length - 1 ? "(?:/.*)?" : "(?:/.*)?";
          return;
        }
        source += `/${seg
          .split(/\*+/)
          .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
          .join("[^/]*")}`;
      });
      return new RegExp(`^${source}$`);
    };
    const seg = fc.oneof(
      fc.constant("**"),
      fc.string({ unit: fc.constantFrom("a", "b", "*"), maxLength: 4 }),
    );
    const pathSeg = fc.string({ unit: fc.constantFrom("a", "b"), maxLength: 3 });
    fc.assert(
      fc.property(fc.array(seg, { maxLength: 5 }), fc.array(pathSeg, { maxLength: 6 }), (psegs, segs) => {
        const pattern = `/${psegs.join("/")}`;
        const path = `/${segs.join("/")}`;
        const m = compileRoute(`GET ${pattern}`)!;
        // A pattern's trailing slash is dropped, as request paths' are (normalize-path.ts).
        const reference = pattern.length > 1 && pattern.endsWith("/") ? pattern.slice(0, -1) : pattern;
        assert.equal(m.matches("GET", path), toRegExp(reference).test(path), `${pattern} vs ${path}`);
      }),
      { numRuns: 20_000 },
    );
  });
});
