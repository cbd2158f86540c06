/**
 * Response evidence, scanner by scanner, through the inspector app.ts builds: what a breach
 * looks like in a response to a flagged request, and what ordinary pages look like, flagged or not.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { waitFor } from "../../../helpers/wait.ts";
import { context, detection, HTML, harness, policy, respond } from "./inspect.ts";

const XSS = "<img src=x onerror=alert(1)>";
const ie1 = (matched = XSS) => detection("IE1", "query:q", matched);

describe("which responses are inspected", () => {
  it("never inspects an unflagged request, even one whose page prints database errors", () => {
    const h = harness();
    const page = `<p>near "'": syntax error</p><pre>root:x:0:0:root</pre>${XSS}`;
    assert.deepEqual(respond(h, context("/search?q=x", null), HTML, [page]), { kinds: [], observed: false });
  });

  it("does not inspect a page that talks about syntax errors when the request was not flagged", () => {
    const h = harness();
    const page = "<p>A syntax error near the top of your file? See the FAQ.</p>";
    assert.equal(respond(h, context("/help", null), HTML, [page]).observed, false);
  });

  it("makes no observer for HEAD, 204 and 304, nor with inspection.maxBytes 0", () => {
    const flagged = () => context("/s?q=1", [ie1()]);
    assert.equal(respond(harness(), context("/s?q=1", [ie1()], "HEAD"), HTML, []).observed, false);
    assert.equal(respond(harness(), flagged(), HTML, [], 204).observed, false);
    assert.equal(respond(harness(), flagged(), HTML, [], 304).observed, false);
    assert.equal(respond(harness({ maxBytes: 0 }), flagged(), HTML, [XSS]).observed, false);
  });

  it("makes no observer when nothing that flagged the request has response evidence", () => {
    // ACE3 (a 404) is not an injection, a traversal, nor an XSS with a payload.
    const r = respond(harness(), context("/x", [detection("ACE3", "status", "404")]), HTML, ["no"], 404);
    assert.equal(r.observed, false);
  });
});

describe("reflected-payload", () => {
  it("fires when the IE1 payload comes back unencoded in HTML, split across chunks", () => {
    const page = Buffer.from(`<p>Results for ${XSS}</p>`);
    for (let at = 10; at < page.length; at += 3) {
      const h = harness();
      const r = respond(h, context("/search?q=x", [ie1()]), HTML, [page.subarray(0, at), page.subarray(at)]);
      assert.deepEqual(r.kinds, ["reflected-payload"], `split at ${at}`);
      assert.equal(h.found[0]!.detectionPoint, "IE1");
      assert.equal(h.found[0]!.metadata.part, "query:q");
      assert.equal(h.found[0]!.metadata.matched, XSS);
    }
  });

  it("does not fire when the page encodes it", () => {
    const page = "<p>Results for &lt;img src=x onerror=alert(1)&gt;</p>";
    assert.deepEqual(respond(harness(), context("/s?q=x", [ie1()]), HTML, [page]).kinds, []);
  });

  it("does not fire outside HTML: JSON and plain text echo input harmlessly", () => {
    const ctx = () => context("/s?q=x", [ie1()]);
    assert.deepEqual(
      respond(harness(), ctx(), { "content-type": "application/json" }, [`{"q":"${XSS}"}`]).kinds,
      [],
    );
    assert.deepEqual(respond(harness(), ctx(), { "content-type": "text/plain" }, [XSS]).kinds, []);
  });

  it("does not count a reflected name with an apostrophe, or a short match", () => {
    const page = "<p>Hello Miles O'Brien, d'Artagnan says hi</p>";
    const ctx = context("/s?q=x", [ie1("Miles O'Brien"), ie1("<b>")]);
    assert.deepEqual(respond(harness(), ctx, HTML, [page]).kinds, []);
  });

  it("reads what followed a bare <script> in the query, so the page's own scripts are not the payload", () => {
    const own = "<html><head><script>var app = {};</script></head><body>";
    const target = `/search?q=${encodeURIComponent("<script>alert(document.cookie)</script>")}`;
    const safe = respond(harness(), context(target, [ie1("<script>")]), HTML, [own, "<p>no results</p>"]);
    assert.deepEqual(safe.kinds, []);
    const leaky = respond(harness(), context(target, [ie1("<script>")]), HTML, [
      own,
      "<p>Results for <script>alert(document.cookie)</script></p>",
    ]);
    assert.deepEqual(leaky.kinds, ["reflected-payload"]);
  });
});

describe("error-disclosure", () => {
  const sqlError = '<pre>SqliteError: near "\'": syntax error\n    at Statement.all (/srv/app.js:31:9)</pre>';

  it("fires on database error text after CIE1, split anywhere, once per response", () => {
    const body = Buffer.from(`<html>${"<p>x</p>".repeat(50)}${sqlError}${sqlError}</html>`);
    for (let at = 1; at < body.length; at += 37) {
      const h = harness();
      const ctx = context("/items?id=1'", [detection("CIE1", "query:id", "'")]);
      const r = respond(h, ctx, HTML, [body.subarray(0, at), body.subarray(at)], 500);
      assert.deepEqual(r.kinds, ["error-disclosure"], `split at ${at}`);
      assert.equal(h.found[0]!.detectionPoint, "CIE1");
      assert.match(h.found[0]!.detail, /SQLite database error text in the response after CIE1 in query:id/);
    }
  });

  it("takes app detections in the injection categories too", () => {
    const h = harness();
    const ctx = context("/items?id=1", [detection("CIE1", null, null, "header")]);
    assert.deepEqual(
      respond(h, ctx, { "content-type": "application/json" }, [`{"error":"${sqlError}"}`]).kinds,
      ["error-disclosure"],
    );
  });

  it("confirms the injection that was seen: a stack trace after a traversal is IE3's", () => {
    const h = harness();
    const trace = "Error: ENOENT\n    at Object.openSync (node:fs:573:18)";
    respond(
      h,
      context("/files?name=../x", [detection("IE3", "query:name", "../")]),
      { "content-type": "text/plain" },
      [trace],
    );
    assert.equal(h.found[0]?.detectionPoint, "IE3");
    assert.equal(h.found[0]?.metadata.evidence.kind, "error-disclosure");
  });

  it("needs an injection: the same error after a failed login (AE2) is not evidence", () => {
    assert.equal(
      respond(harness(), context("/login", [detection("AE2", "status", "401")]), HTML, [sqlError]).observed,
      false,
    );
  });

  it("skips binary bodies", () => {
    const ctx = context("/img?id=1'", [detection("CIE1", "query:id", "'")]);
    assert.deepEqual(respond(harness(), ctx, { "content-type": "image/png" }, [sqlError]).kinds, []);
  });
});

describe("file-content", () => {
  it("fires on /etc/passwd after IE3, found across many small chunks", () => {
    const h = harness();
    const body = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n";
    const chunks = body.match(/.{1,3}/gs)!;
    const r = respond(
      h,
      context("/files?name=../../etc/passwd", [detection("IE3", "query:name", "../")]),
      { "content-type": "text/plain" },
      chunks,
    );
    assert.deepEqual(r.kinds, ["file-content"]);
    assert.equal(h.found[0]!.detectionPoint, "IE3");
    assert.match(h.found[0]!.detail, /\/etc\/passwd/);
    assert.doesNotMatch(h.found[0]!.detail, /bin\/bash/, "the detail names the file, never its content");
  });

  it("does not look for file content after an XSS attempt", () => {
    const r = respond(harness(), context("/s?q=x", [ie1()]), { "content-type": "text/plain" }, [
      "root:x:0:0:root",
    ]);
    assert.deepEqual(r.kinds, []);
  });
});

describe("bounds", () => {
  it("reads at most inspection.maxBytes: evidence after the bound is not looked at", () => {
    const ctx = () => context("/items?id=1'", [detection("CIE1", "query:id", "'")]);
    const filler = Buffer.alloc(16 * 1024, "a");
    const late = [...Array.from({ length: 640 }, () => filler), Buffer.from("SQLITE_ERROR")]; // 10 MiB, then
    assert.deepEqual(respond(harness(), ctx(), HTML, late).kinds, []);
    const early = [filler, Buffer.from("SQLITE_ERROR"), ...Array.from({ length: 640 }, () => filler)];
    assert.deepEqual(respond(harness(), ctx(), HTML, early).kinds, ["error-disclosure"]);
  });

  it("skips a compressed body unless decompression is on, then finds the evidence in it", async () => {
    const page = gzipSync(Buffer.from('<p>near "\'": syntax error</p>'));
    const gz = { ...HTML, "content-encoding": "gzip" };
    const ctx = () => context("/items?id=1'", [detection("CIE1", "query:id", "'")]);
    assert.equal(respond(harness(), ctx(), gz, [page]).observed, false);
    const on = harness({ decompress: true });
    respond(on, ctx(), gz, [page.subarray(0, 10), page.subarray(10)]);
    await waitFor(() => on.found.length > 0, "evidence from the decompressed body");
    assert.equal(on.found[0]!.metadata.evidence.kind, "error-disclosure");
  });

  it("treats an unknown content coding as opaque even with decompression on", () => {
    const ctx = context("/items?id=1'", [detection("CIE1", "query:id", "'")]);
    const r = respond(harness({ decompress: true }), ctx, { ...HTML, "content-encoding": "zstd" }, [
      "SQLITE_ERROR",
    ]);
    assert.deepEqual(r.kinds, []);
  });
});

describe("honeytoken-response (HT3)", () => {
  const TOKEN = "7f3a9c-canary-ssn-000-00-0000";
  const withTokens = policy(`
edge:
  detect: [HT3]
  honeyTraps: { tokens: ["${TOKEN}", "backup_admin"] }
`);

  it("scans every text response, flagged or not, when the policy lists HT3 and decoy tokens", () => {
    const h = harness({ policy: withTokens });
    const body = Buffer.from(`{"rows":[{"name":"Ann"},{"ssn":"${TOKEN}"}]}`);
    const r = respond(h, context("/api/people", null), { "content-type": "application/json" }, [
      body.subarray(0, 30),
      body.subarray(30),
    ]);
    assert.deepEqual(r.kinds, ["honeytoken-response"]);
    assert.equal(h.found[0]!.detectionPoint, "HT3");
    assert.equal(h.found[0]!.metadata.matched, TOKEN);
  });

  it("raises it once per response even when several tokens leave", () => {
    const r = respond(
      harness({ policy: withTokens }),
      context("/dump", null),
      { "content-type": "text/csv" },
      [`${TOKEN},backup_admin`],
    );
    assert.deepEqual(r.kinds, ["honeytoken-response"]);
  });

  it("stays off without HT3 in edge.detect, and on binary bodies", () => {
    const off = policy(`
edge:
  honeyTraps: { tokens: ["${TOKEN}"] }
`);
    assert.equal(respond(harness({ policy: off }), context("/a", null), HTML, [TOKEN]).observed, false);
    const r = respond(
      harness({ policy: withTokens }),
      context("/a", null),
      { "content-type": "application/zip" },
      [TOKEN],
    );
    assert.equal(r.observed, false);
  });
});

describe("oversized-response (CIE2)", () => {
  const declared = policy(`
edge:
  routes:
    - { route: "GET /api/items/*" }
`);
  const ctype = { "content-type": "application/json" };

  function learn(h: ReturnType<typeof harness>, n: number, bytes = 1000): void {
    for (let i = 0; i < n; i++)
      respond(h, context(`/api/items/${i}`, null), { ...ctype, "content-length": String(bytes) }, []);
  }

  it("fires once the route has learned its normal size, and the flagged response is far above it", () => {
    const h = harness({ policy: declared });
    const flagged = () => context("/api/items/1?id=1'", [detection("CIE1", "query:id", "'")]);
    learn(h, 19);
    assert.deepEqual(
      respond(h, flagged(), { ...ctype, "content-length": "500000" }, []).kinds,
      [],
      "19 samples",
    );
    learn(h, 1);
    assert.deepEqual(respond(h, flagged(), { ...ctype, "content-length": "500000" }, []).kinds, [
      "oversized-response",
    ]);
    assert.equal(h.found[0]!.detectionPoint, "CIE2");
    assert.match(h.found[0]!.detail, /500000 bytes on GET \/api\/items\/\*/);
  });

  it("counts the bytes of a chunked response, and needs more than 64 KB as well as 10x the median", () => {
    const h = harness({ policy: declared });
    learn(h, 20, 2000);
    const flagged = () => context("/api/items/9?q=x", [detection("CIE1", "query:q", "union select")]);
    const chunk = Buffer.alloc(8 * 1024, "{");
    assert.deepEqual(
      respond(
        h,
        flagged(),
        ctype,
        Array.from({ length: 7 }, () => chunk),
      ).kinds,
      [],
      "56 KiB",
    );
    assert.deepEqual(
      respond(
        h,
        flagged(),
        ctype,
        Array.from({ length: 20 }, () => chunk),
      ).kinds,
      ["oversized-response"],
    );
  });

  it("learns a route first seen flagged from the unflagged responses that follow", () => {
    const h = harness();
    const flagged = () => context("/search?q=1'", [detection("CIE1", "query:q", "'")]);
    respond(h, flagged(), { ...ctype, "content-length": "900000" }, []);
    for (let i = 0; i < 20; i++) respond(h, context(`/search?q=${i}`, null), ctype, ["x".repeat(500)]);
    assert.deepEqual(respond(h, flagged(), { ...ctype, "content-length": "900000" }, []).kinds, [
      "oversized-response",
    ]);
  });
});
