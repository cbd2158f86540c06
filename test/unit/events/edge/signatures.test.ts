/**
 * The edge signature sets (IE1, CIE1, IE3, EE1, CIE3, CIE4): what they catch, what ordinary
 * traffic they must leave alone, and that hostile input costs linear time. Each false-positive
 * case is text real users send; docs/edge-detection.md lists the ones that are known to match.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  findCrLf,
  findDoubleEncoding,
  findNullByte,
  findSqlInjection,
  findTraversal,
  findXss,
  MATCHED_MAX,
} from "../../../../src/events/edge/signatures.ts";

/** Ordinary values none of the injection signatures may match (decoded, as users typed them). */
const ORDINARY = [
  "O'Brien",
  "d'Artagnan",
  "Miles O'Brien and Jean-Luc d'Artagnan",
  "I'm here; you're there",
  "a rug of 5' x 10' for the hall",
  'the 6\' 2" tall shelf, 12" deep',
  "**bold** and _italic_ and `code`",
  "```js\nconst x = a || b;\nconsole.log(x && y);\n```",
  "# Title\n\n- item one\n- item two\n\n> quoted",
  "I <3 this product",
  '<b>bold</b> and <i>italic</i> and <a href="https://example.com/a?b=c">a link</a>',
  "select a union rep for the meeting",
  "the trade union selection committee met today",
  "Select your size; then update your cart",
  "https://example.com/search?q=shoes&sort=price",
  "https://example.com/path/to/page.html#section",
  '{"name":"O\'Brien","note":"he said \\"hi\\""}',
  "JavaScript: The Good Parts",
  "I need sleep (8 hours a night)",
  "Rock 'n' roll or jazz",
  "What's the best onion soup recipe? onion = 3, water = 1l",
  "email me at anne.o'neil@example.com",
  "price: $5.99 -- limited offer",
  "50% off everything, 100%ABV",
  "wait... / or not",
  "see [the docs](../README.md) for more",
  "C:\\Users\\anne\\Documents\\report.docx",
  "1 or 2 = 3 is wrong",
  "a".repeat(3000),
  "long search string ".repeat(200),
];

describe("IE1 (XSS signatures)", () => {
  it("catches script tags, script URLs and event handlers, reporting the whole tag", () => {
    assert.equal(findXss("<script>alert(1)</script>")?.matched, "<script>");
    assert.equal(
      findXss("<SCRIPT src=//evil.example/x.js></SCRIPT>")?.matched,
      "<SCRIPT src=//evil.example/x.js>",
    );
    assert.equal(findXss('"><img src=x onerror=alert(1)>')?.matched, "<img src=x onerror=alert(1)>");
    assert.equal(findXss("<svg/onload=alert(1)>")?.matched, "<svg/onload=alert(1)>");
    assert.ok(findXss("javascript:alert(document.cookie)"));
    assert.ok(findXss("JaVaScRiPt:alert(1)"));
    assert.ok(findXss("data:text/html;base64,PHNjcmlwdD4="));
    assert.ok(findXss('" onmouseover="alert(1)'));
    assert.ok(findXss("<body onload =alert(1)>"));
  });

  it("leaves ordinary text alone", () => {
    for (const v of ORDINARY) assert.equal(findXss(v), null, v.slice(0, 60));
  });

  it("bounds what it records", () => {
    const m = findXss(`<script ${"a".repeat(5000)}>`);
    assert.ok(m && m.matched.length === MATCHED_MAX);
  });
});

describe("CIE1 (SQL injection signatures)", () => {
  it("catches tautologies, UNION SELECT, quote comments, stacked and time-based queries", () => {
    for (const v of [
      "' or 1=1",
      "' OR '1'='1",
      "admin' or 'a'='a",
      "'or'1'='1",
      '" or ""="',
      "1') or ('x'='x",
      "x' and 1=1 --",
      "1 UNION SELECT username, password FROM users",
      "1 union all select null,null",
      "1/**/UNION/**/SELECT/**/1",
      "1+union+select+1",
      "admin'--",
      "admin' /* comment",
      "1; DROP TABLE users",
      "1;delete from accounts",
      "1; exec xp_cmdshell 'dir'",
      "1' and sleep(5)",
      "1; select pg_sleep(10)",
      "1 and benchmark(5000000,md5(1))",
      "1'; waitfor delay '0:0:5'--",
      "1 and 1=(select count(*) from information_schema.tables)",
      "1 and @@version like '5%'",
    ]) {
      assert.ok(findSqlInjection(v), v);
    }
  });

  it("leaves ordinary text alone", () => {
    for (const v of ORDINARY) assert.equal(findSqlInjection(v), null, v.slice(0, 60));
  });
});

describe("IE3 (path traversal)", () => {
  it("catches dot-dot segments and their encoded forms", () => {
    assert.ok(findTraversal("../../etc/passwd", "../../etc/passwd"));
    assert.ok(findTraversal("..\\..\\windows\\win.ini", "..%5c..%5cwindows%5cwin.ini"));
    assert.ok(findTraversal("images/../../secret", "images%2f..%2f..%2fsecret"));
    assert.ok(findTraversal("../etc/passwd", "%2e%2e%2fetc%2fpasswd"));
    assert.ok(findTraversal("..;/admin", "..;/admin"));
    assert.ok(findTraversal("/static/..", "/static/.."));
    // Overlong UTF-8 decodes to U+FFFD, so the raw form is what is matched.
    assert.ok(findTraversal("\ufffd\ufffd/etc/passwd", "%c0%ae%c0%ae/etc/passwd"));
    assert.ok(findTraversal("%2e%2e/x", "%252e%252e/x"));
  });

  it("leaves ellipses, relative markdown links and file names alone", () => {
    for (const v of ORDINARY) assert.equal(findTraversal(v, v), null, v.slice(0, 60));
    assert.equal(findTraversal("report..final.pdf", "report..final.pdf"), null);
    assert.equal(findTraversal("v1.2..v1.3", "v1.2..v1.3"), null);
  });
});

describe("EE1 (double encoding)", () => {
  it("catches double-encoded markup, quotes, dots, backslashes and control characters", () => {
    for (const raw of [
      "%253Cscript%253E",
      "%252e%252e%252f",
      "%2527",
      "%255c",
      "%2500",
      "%250d%250a",
      "%25c0%25ae",
    ]) {
      assert.ok(findDoubleEncoding(raw), raw);
    }
  });

  it("leaves a single percent sign and URLs passed as parameters alone", () => {
    for (const raw of [
      "50%25%20off",
      "100%25ABV",
      "https%3A%2F%2Fexample.com%2Fcb%3Fq%3Da%2520b%26next%3D%252Fhome",
      "redirect_uri%3Dhttps%253A%252F%252Fapp.example%252F",
      "plain",
    ]) {
      assert.equal(findDoubleEncoding(raw), null, raw);
    }
  });
});

describe("CIE3 and CIE4 (null byte, CR/LF)", () => {
  it("catch them decoded or percent-encoded", () => {
    assert.ok(findNullByte("passwd\u0000.png", "passwd%00.png"));
    assert.ok(findNullByte("x", "x%00"));
    assert.ok(findCrLf("a\r\nSet-Cookie: x=1", "a%0d%0aSet-Cookie:%20x=1"));
    assert.ok(findCrLf("a", "a%0A"));
    assert.equal(findNullByte("100% sure", "100%25%20sure"), null);
    assert.equal(findCrLf("one line", "one%20line"), null);
  });
});

describe("hostile input", () => {
  // Not a timing assertion: each would take minutes, not milliseconds, if a pattern backtracked
  // catastrophically, so finishing at all is the check.
  it("scans 100 KB hostile values without catastrophic backtracking", () => {
    const hostile = [
      `'${" ".repeat(100_000)}`,
      "' ".repeat(50_000),
      `union${" ".repeat(100_000)}`,
      "union /**/".repeat(10_000),
      `<${"script".repeat(16_000)}`,
      ` on${"error".repeat(20_000)}`,
      ";".repeat(100_000),
      "../".repeat(33_000),
      "%25".repeat(33_000),
      "%c0".repeat(33_000),
      "sleep(".repeat(16_000),
      `${"'or".repeat(33_000)}`,
    ];
    for (const v of hostile) {
      findXss(v);
      findSqlInjection(v);
      findTraversal(v, v);
      findDoubleEncoding(v);
      findNullByte(v, v);
      findCrLf(v, v);
    }
  });
});

describe("plain values (the request checks' fast path)", () => {
  // checkValue skips the signatures for values of letters, digits, - . ~ / without "..": this
  // property is what makes that safe. If a signature ever learns to match such a value, it fails.
  it("no signature matches a value of letters, digits, '-', '.', '~' and '/' without '..'", () => {
    const plain = fc.stringMatching(/^[A-Za-z0-9\-.~/]{0,80}$/).filter((s) => !s.includes(".."));
    const words = fc
      .array(
        fc.constantFrom(
          "select",
          "union",
          "script",
          "javascript",
          "onerror",
          "sleep",
          "drop",
          "table",
          "information",
          "schema",
          "etc",
          "passwd",
          "version",
          "data",
          "text",
          "html",
          "/",
          "-",
          ".",
          "~",
          "0",
          "1",
        ),
        { maxLength: 12 },
      )
      .map((parts) => parts.join(""))
      .filter((s) => !s.includes(".."));
    fc.assert(
      fc.property(fc.oneof(plain, words), (value) => {
        assert.equal(findXss(value), null);
        assert.equal(findSqlInjection(value), null);
        assert.equal(findTraversal(value, value), null);
        assert.equal(findDoubleEncoding(value), null);
        assert.equal(findNullByte(value, value), null);
        assert.equal(findCrLf(value, value), null);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("hostile runs of whitespace", () => {
  // A quote, a keyword and 64 000 spaces once took the CIE1 expression seconds (quadratic
  // backtracking between two unbounded runs of space); this input now takes microseconds. The
  // suite does not time it, but a regression shows as a test that takes seconds.
  it("an injection keyword followed by a long run of spaces matches nothing and returns", () => {
    for (const prefix of ["' or", "' and", "') or", "'||", "union", "; drop", "sleep", "onerror"]) {
      const value = `${prefix}${" ".repeat(64_000)}x`;
      assert.equal(findSqlInjection(value), null, prefix);
      assert.equal(findXss(value), null, prefix);
    }
  });
});
