/**
 * Response evidence, scanner by scanner, through the inspector app.ts builds: what a breach
 * looks like in a response to a flagged request, and what ordinary pages look like, flagged or not.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { waitFor } from "../../../helpers/wait.ts";
import { context, detection, HTML, harness, nextTurn, policy, respond } from "./inspect.ts";

const XSS = "<img src=x onerror=alert(1)>";
const ie1 = (matched = XSS) => detection("IE1", "query:q", matched);

describe("which responses are inspected", () => {
  it("never inspects an unflagged request, even one whose page prints database errors", async () => {
    const h = harness();
    const page = `<p>near "'": syntax error</p><pre>root:x:0:0:root</pre>${XSS}`;
    assert.deepEqual(await respond(h, context("/search?q=x", null), HTML, [page]), {
      kinds: [],
      observed: false,
    });
  });

  it("does not inspect a page that talks about syntax errors when the request was not flagged", async () => {
    const h = harness();
    const page = "<p>A syntax error near the top of your file? See the FAQ.</p>";
    assert.equal((await respond(h, context("/help", null), HTML, [page])).observed, false);
  });

  it("makes no observer for HEAD, 204 and 304, nor with inspection.maxBytes 0", async () => {
    const flagged = () => context("/s?q=1", [ie1()]);
    assert.equal((await respond(harness(), context("/s?q=1", [ie1()], "HEAD"), HTML, [])).observed, false);
    assert.equal((await respond(harness(), flagged(), HTML, [], 204)).observed, false);
    assert.equal((await respond(harness(), flagged(), HTML, [], 304)).observed, false);
    assert.equal((await respond(harness({ maxBytes: 0 }), flagged(), HTML, [XSS])).observed, false);
  });

  it("makes no observer when nothing that flagged the request has response evidence", async () => {
    // ACE3 (a 404) is not an injection, a traversal, nor an XSS with a payload.
    const r = await respond(
      harness(),
      context("/x", [detection("ACE3", "status", "404")]),
      HTML,
      ["no"],
      404,
    );
    assert.equal(r.observed, false);
  });
});

describe("reflected-payload", () => {
  it("fires when the IE1 payload comes back unencoded in HTML, split across chunks", async () => {
    const page = Buffer.from(`<p>Results for ${XSS}</p>`);
    for (let at = 10; at < page.length; at += 3) {
      const h = harness();
      const r = await respond(h, context("/search?q=x", [ie1()]), HTML, [
        page.subarray(0, at),
        page.subarray(at),
      ]);
      assert.deepEqual(r.kinds, ["reflected-payload"], `split at ${at}`);
      assert.equal(h.found[0]!.detectionPoint, "IE1");
      assert.equal(h.found[0]!.metadata.part, "query:q");
      assert.equal(h.found[0]!.metadata.matched, XSS);
    }
  });

  it("does not fire when the page encodes it", async () => {
    const page = "<p>Results for &lt;img src=x onerror=alert(1)&gt;</p>";
    assert.deepEqual((await respond(harness(), context("/s?q=x", [ie1()]), HTML, [page])).kinds, []);
  });

  it("does not fire outside HTML: JSON and plain text echo input harmlessly", async () => {
    const ctx = () => context("/s?q=x", [ie1()]);
    assert.deepEqual(
      (await respond(harness(), ctx(), { "content-type": "application/json" }, [`{"q":"${XSS}"}`])).kinds,
      [],
    );
    assert.deepEqual((await respond(harness(), ctx(), { "content-type": "text/plain" }, [XSS])).kinds, []);
  });

  it("does not count a reflected name with an apostrophe, or a short match", async () => {
    const page = "<p>Hello Miles O'Brien, d'Artagnan says hi</p>";
    const ctx = context("/s?q=x", [ie1("Miles O'Brien"), ie1("<b>")]);
    assert.deepEqual((await respond(harness(), ctx, HTML, [page])).kinds, []);
  });

  it("reads what followed a bare <script> in the query, so the page's own scripts are not the payload", async () => {
    const own = "<html><head><script>var app = {};</script></head><body>";
    const target = `/search?q=${encodeURIComponent("<script>alert(document.cookie)</script>")}`;
    const safe = await respond(harness(), context(target, [ie1("<script>")]), HTML, [
      own,
      "<p>no results</p>",
    ]);
    assert.deepEqual(safe.kinds, []);
    const leaky = await respond(harness(), context(target, [ie1("<script>")]), HTML, [
      own,
      "<p>Results for <script>alert(document.cookie)</script></p>",
    ]);
    assert.deepEqual(leaky.kinds, ["reflected-payload"]);
  });
});

describe("reflected-payload, finding the payload in the query", () => {
  const payload = "<script>alert(document.cookie)</script>";
  const reflecting = (p: string) => ["<html><head><script>var a = 1;</script></head>", `<p>${p}</p>`];

  it("takes the occurrence of the parameter the detection matched in, not merely the first", async () => {
    const target = `/search?q=hello&q=${encodeURIComponent(payload)}`;
    const r = await respond(harness(), context(target, [ie1("<script>")]), HTML, reflecting(payload));
    assert.deepEqual(r.kinds, ["reflected-payload"]);
  });

  it("decodes names and values as edge detection does: encoded names, + as a space, UTF-8", async () => {
    const p = "<script>alert('Zoë’s cookie')</script>";
    const target = `/search?%71=${encodeURIComponent(p).replace(/%20/g, "+")}`;
    const r = await respond(harness(), context(target, [ie1("<script>")]), HTML, reflecting(p));
    assert.deepEqual(r.kinds, ["reflected-payload"]);
  });

  it("finds a payload spread over one-byte chunks", async () => {
    const target = `/s?q=${encodeURIComponent(payload)}`;
    const page = Buffer.from(`<p>Results for ${payload}</p>`);
    const chunks = Array.from(page, (_, i) => page.subarray(i, i + 1));
    assert.deepEqual((await respond(harness(), context(target, [ie1("<script>")]), HTML, chunks)).kinds, [
      "reflected-payload",
    ]);
  });

  it("survives hostile query strings: malformed escapes, huge names, ten thousand parameters", async () => {
    const targets = [
      "/s?q=%E0%A4%A<script>x%zz%",
      `/s?${"q".repeat(100_000)}=<script>alert(1)</script>`,
      `/s?${"a=1&".repeat(10_000)}q=%3Cscript%3Ealert(1)%3C/script%3E`,
      "/s?&&&=&q&q=&=q",
      "/s?q=<script>",
    ];
    for (const target of targets) {
      const r = await respond(harness(), context(target, [ie1("<script>")]), HTML, [
        "<p><script>alert(1)</script></p>",
      ]);
      assert.ok(Array.isArray(r.kinds), target.slice(0, 40));
    }
    // The ten-thousandth-and-first parameter still counts.
    const r = await respond(harness(), context(targets[2]!, [ie1("<script>")]), HTML, [
      "<p><script>alert(1)</script></p>",
    ]);
    assert.deepEqual(r.kinds, ["reflected-payload"]);
  });
});

describe("error-disclosure", () => {
  const sqlError = '<pre>SqliteError: near "\'": syntax error\n    at Statement.all (/srv/app.js:31:9)</pre>';

  it("fires on database error text after CIE1, split anywhere, once per response", async () => {
    const body = Buffer.from(`<html>${"<p>x</p>".repeat(50)}${sqlError}${sqlError}</html>`);
    for (let at = 1; at < body.length; at += 37) {
      const h = harness();
      const ctx = context("/items?id=1'", [detection("CIE1", "query:id", "'")]);
      const r = await respond(h, ctx, HTML, [body.subarray(0, at), body.subarray(at)], 500);
      assert.deepEqual(r.kinds, ["error-disclosure"], `split at ${at}`);
      assert.equal(h.found[0]!.detectionPoint, "CIE1");
      assert.match(h.found[0]!.detail, /SQLite database error text in the response after CIE1 in query:id/);
    }
  });

  it("is not evidence when the request itself carries the text: an echo proves nothing", async () => {
    // A search page that shows "No results for …" repeats whatever the client sent.
    const forged = "/search?q=%27+or+1%3D1--+SqliteError+root:x:0:0:";
    const echo = "<p>No results for &#39; or 1=1-- SqliteError root:x:0:0:</p>";
    const h = harness();
    const ctx = context(forged, [
      detection("CIE1", "query:q", "' or 1=1--"),
      detection("IE3", "query:q", ".."),
    ]);
    assert.deepEqual((await respond(h, ctx, HTML, [echo])).kinds, []);
    // The same page leaking an error the request did not carry is evidence.
    const real = harness();
    const leak = context("/search?q=%27+or+1%3D1--", [detection("CIE1", "query:q", "' or 1=1--")]);
    assert.deepEqual((await respond(real, leak, HTML, [sqlError])).kinds, ["error-disclosure"]);
  });

  it("takes app detections in the injection categories too", async () => {
    const h = harness();
    const ctx = context("/items?id=1", [detection("CIE1", null, null, "header")]);
    assert.deepEqual(
      (await respond(h, ctx, { "content-type": "application/json" }, [`{"error":"${sqlError}"}`])).kinds,
      ["error-disclosure"],
    );
  });

  it("confirms the injection that was seen: a stack trace after a traversal is IE3's", async () => {
    const h = harness();
    const trace = "Error: ENOENT\n    at Object.openSync (node:fs:573:18)";
    await respond(
      h,
      context("/files?name=../x", [detection("IE3", "query:name", "../")]),
      { "content-type": "text/plain" },
      [trace],
    );
    assert.equal(h.found[0]?.detectionPoint, "IE3");
    assert.equal(h.found[0]?.metadata.evidence.kind, "error-disclosure");
  });

  it("needs an injection: the same error after a failed login (AE2) is not evidence", async () => {
    assert.equal(
      (await respond(harness(), context("/login", [detection("AE2", "status", "401")]), HTML, [sqlError]))
        .observed,
      false,
    );
  });

  it("scans a chunk once it has gone out, and raises it before the rest of the body has passed", async () => {
    const h = harness();
    const ctx = context("/items?id=1'", [detection("CIE1", "query:id", "'")]);
    const observer = h.inspect(ctx, 500, { ...HTML, "content-length": "100000" });
    observer?.onData(Buffer.from(sqlError));
    // Nothing runs while the forwarder's write of the chunk is still corked in this tick.
    assert.equal(h.found.length, 0);
    await nextTurn();
    assert.deepEqual(
      h.found.map((e) => e.metadata.evidence.kind),
      ["error-disclosure"],
    );
    // A chunk queued in the same tick as the end is still scanned, and before the end is.
    const late = harness();
    const o = late.inspect(ctx, 500, HTML);
    o?.onData(Buffer.from("<p>fine</p>"));
    o?.onData(Buffer.from("Parse error on line 3:"));
    o?.onData(Buffer.from("\n{{x}\n---^"));
    o?.onEnd();
    await nextTurn();
    assert.deepEqual(
      late.found.map((e) => e.metadata.evidence.kind),
      ["error-disclosure"],
    );
  });

  it("finds error text and file content in the same response after an injection that can read files", async () => {
    const h = harness();
    const ctx = context("/items?id=1'", [detection("CIE1", "query:id", "'")]);
    const r = await respond(h, ctx, HTML, [`${sqlError}<pre>root:x:0:0:root:/root:/bin/bash</pre>`], 500);
    assert.deepEqual(r.kinds.sort(), ["error-disclosure", "file-content"]);
  });

  it("skips binary bodies", async () => {
    const ctx = context("/img?id=1'", [detection("CIE1", "query:id", "'")]);
    assert.deepEqual((await respond(harness(), ctx, { "content-type": "image/png" }, [sqlError])).kinds, []);
  });
});

describe("file-content", () => {
  it("fires on /etc/passwd after IE3, found across many small chunks", async () => {
    const h = harness();
    const body = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n";
    const chunks = body.match(/.{1,3}/gs)!;
    const r = await respond(
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

  it("does not look for file content after an XSS attempt", async () => {
    const r = await respond(harness(), context("/s?q=x", [ie1()]), { "content-type": "text/plain" }, [
      "root:x:0:0:root",
    ]);
    assert.deepEqual(r.kinds, []);
  });
});

describe("bounds", () => {
  it("reads at most inspection.maxBytes: evidence after the bound is not looked at", async () => {
    const ctx = () => context("/items?id=1'", [detection("CIE1", "query:id", "'")]);
    const filler = Buffer.alloc(16 * 1024, "a");
    const late = [...Array.from({ length: 640 }, () => filler), Buffer.from("SQLITE_ERROR")]; // 10 MiB, then
    assert.deepEqual((await respond(harness(), ctx(), HTML, late)).kinds, []);
    const early = [filler, Buffer.from("SQLITE_ERROR"), ...Array.from({ length: 640 }, () => filler)];
    assert.deepEqual((await respond(harness(), ctx(), HTML, early)).kinds, ["error-disclosure"]);
  });

  it("reads up to exactly inspection.maxBytes: a match that ends there counts, one a byte later does not", async () => {
    const ctx = () => context("/items?id=1'", [detection("CIE1", "query:id", "'")]);
    const error = 'near "\'": syntax error';
    const ending = (end: number) => {
      const body = Buffer.from(`${"a".repeat(end - error.length)}${error}${"b".repeat(100)}`);
      return [body.subarray(0, 700), body.subarray(700, 1010), body.subarray(1010)];
    };
    assert.deepEqual((await respond(harness({ maxBytes: 1024 }), ctx(), HTML, ending(1024))).kinds, [
      "error-disclosure",
    ]);
    assert.deepEqual((await respond(harness({ maxBytes: 1024 }), ctx(), HTML, ending(1025))).kinds, []);
    const length = { ...HTML, "content-length": "1124" };
    assert.deepEqual((await respond(harness({ maxBytes: 1024 }), ctx(), length, ending(1024))).kinds, [
      "error-disclosure",
    ]);
  });

  it("finds a pattern split across the decompressed text of a large gzip body", async () => {
    const page = Buffer.from(`<p>${"padding ".repeat(6000)}</p><pre>SQLSTATE[42000]: Syntax error</pre>`);
    const gz = gzipSync(page);
    const on = harness({ decompress: true });
    const ctx = context("/items?id=1'", [detection("CIE1", "query:id", "'")]);
    await respond(
      on,
      ctx,
      { ...HTML, "content-encoding": "gzip" },
      Array.from({ length: Math.ceil(gz.length / 50) }, (_, i) => gz.subarray(i * 50, i * 50 + 50)),
    );
    await waitFor(() => on.found.length > 0, "evidence from the decompressed body");
    assert.match(on.found[0]!.detail, /PDO database error text/);
  });

  it("skips a compressed body unless decompression is on, then finds the evidence in it", async () => {
    const page = gzipSync(Buffer.from('<p>near "\'": syntax error</p>'));
    const gz = { ...HTML, "content-encoding": "gzip" };
    const ctx = () => context("/items?id=1'", [detection("CIE1", "query:id", "'")]);
    assert.equal((await respond(harness(), ctx(), gz, [page])).observed, false);
    const on = harness({ decompress: true });
    await respond(on, ctx(), gz, [page.subarray(0, 10), page.subarray(10)]);
    await waitFor(() => on.found.length > 0, "evidence from the decompressed body");
    assert.equal(on.found[0]!.metadata.evidence.kind, "error-disclosure");
  });

  it("treats an unknown content coding as opaque even with decompression on", async () => {
    const ctx = context("/items?id=1'", [detection("CIE1", "query:id", "'")]);
    const r = await respond(harness({ decompress: true }), ctx, { ...HTML, "content-encoding": "zstd" }, [
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

  it("scans every text response, flagged or not, when the policy lists HT3 and decoy tokens", async () => {
    const h = harness({ policy: withTokens });
    const body = Buffer.from(`{"rows":[{"name":"Ann"},{"ssn":"${TOKEN}"}]}`);
    const r = await respond(h, context("/api/people", null), { "content-type": "application/json" }, [
      body.subarray(0, 30),
      body.subarray(30),
    ]);
    assert.deepEqual(r.kinds, ["honeytoken-response"]);
    assert.equal(h.found[0]!.detectionPoint, "HT3");
    assert.equal(h.found[0]!.metadata.matched, TOKEN);
  });

  it("raises it once per response even when several tokens leave", async () => {
    const r = await respond(
      harness({ policy: withTokens }),
      context("/dump", null),
      { "content-type": "text/csv" },
      [`${TOKEN},backup_admin`],
    );
    assert.deepEqual(r.kinds, ["honeytoken-response"]);
  });

  it("stays off without HT3 in edge.detect, and on binary bodies", async () => {
    const off = policy(`
edge:
  honeyTraps: { tokens: ["${TOKEN}"] }
`);
    assert.equal(
      (await respond(harness({ policy: off }), context("/a", null), HTML, [TOKEN])).observed,
      false,
    );
    const r = await respond(
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

  async function learn(h: ReturnType<typeof harness>, n: number, bytes = 1000): Promise<void> {
    for (let i = 0; i < n; i++)
      await respond(h, context(`/api/items/${i}`, null), { ...ctype, "content-length": String(bytes) }, []);
  }

  it("fires once the route has learned its normal size, and the flagged response is far above it", async () => {
    const h = harness({ policy: declared });
    const flagged = () => context("/api/items/1?id=1'", [detection("CIE1", "query:id", "'")]);
    await learn(h, 19);
    assert.deepEqual(
      (await respond(h, flagged(), { ...ctype, "content-length": "500000" }, [])).kinds,
      [],
      "19 samples",
    );
    await learn(h, 1);
    assert.deepEqual((await respond(h, flagged(), { ...ctype, "content-length": "500000" }, [])).kinds, [
      "oversized-response",
    ]);
    assert.equal(h.found[0]!.detectionPoint, "CIE2");
    assert.match(h.found[0]!.detail, /500000 bytes on GET \/api\/items\/\*/);
  });

  it("counts the bytes of a chunked response, and needs more than 64 KB as well as 10x the median", async () => {
    const h = harness({ policy: declared });
    await learn(h, 20, 2000);
    const flagged = () => context("/api/items/9?q=x", [detection("CIE1", "query:q", "union select")]);
    const chunk = Buffer.alloc(8 * 1024, "{");
    assert.deepEqual(
      (
        await respond(
          h,
          flagged(),
          ctype,
          Array.from({ length: 7 }, () => chunk),
        )
      ).kinds,
      [],
      "56 KiB",
    );
    assert.deepEqual(
      (
        await respond(
          h,
          flagged(),
          ctype,
          Array.from({ length: 20 }, () => chunk),
        )
      ).kinds,
      ["oversized-response"],
    );
  });

  it("learns a route first seen flagged from the unflagged responses that follow", async () => {
    const h = harness();
    const flagged = () => context("/search?q=1'", [detection("CIE1", "query:q", "'")]);
    await respond(h, flagged(), { ...ctype, "content-length": "900000" }, []);
    for (let i = 0; i < 20; i++) await respond(h, context(`/search?q=${i}`, null), ctype, ["x".repeat(500)]);
    assert.deepEqual((await respond(h, flagged(), { ...ctype, "content-length": "900000" }, [])).kinds, [
      "oversized-response",
    ]);
  });
});
