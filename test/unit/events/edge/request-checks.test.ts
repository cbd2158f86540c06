/**
 * Request-side edge detection, one detection point at a time: each fires on what it names, only
 * when listed in `edge.detect`, and stays silent on ordinary requests of the same shape.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type CompiledEdge, compileEdge } from "../../../../src/events/edge/compile-edge.ts";
import { Findings } from "../../../../src/events/edge/findings.ts";
import type { BodyKind } from "../../../../src/events/edge/parameters.ts";
import { checkBody, checkHead, checkTokensInBody } from "../../../../src/events/edge/request-checks.ts";
import type { EdgeDetection } from "../../../../src/events/intake.ts";
import { formatPolicyProblem, loadPolicySources } from "../../../../src/policy/load.ts";

function edgeOf(yaml: string): CompiledEdge {
  const result = loadPolicySources([{ name: "p.yaml", text: yaml }]);
  assert.ok(result.ok, result.ok ? "" : result.problems.map(formatPolicyProblem).join("\n"));
  return compileEdge(result.policy);
}

const ALL = `edge:
  detect: [RE1, RE2, RE3, RE4, RE7, EE1, CIE3, CIE4, IE1, CIE1, IE3, FIO1, HT2, HT3]
  routes:
    - { route: "POST /login", login: { failureStatus: [401] } }
    - { route: "GET /api/items/*" }
    - { route: "PUT /api/items/*" }
    - { route: "* /anything/*" }
  honeyTraps:
    routes: ["GET /.env", "GET /backup.zip", "* /wp-admin/**"]
    tokens: ["7f3a9c-canary-ssn-000-00-0000", "backup_admin"]
  limits: { paramLength: 100, bodyBytes: 1KB }
`;
const all = edgeOf(ALL);

function head(edge: CompiledEdge, method: string, target: string, headers: Record<string, string> = {}) {
  const found = new Findings();
  checkHead(
    edge,
    { method, target, rawHeaders: Object.entries(headers).flat(), contentLength: headers["content-length"] },
    found,
  );
  return found;
}

function body(edge: CompiledEdge, kind: BodyKind, text: string): Findings {
  const found = new Findings();
  checkBody(edge, kind, text, found);
  if (edge.tokens) checkTokensInBody(edge.tokens, kind, text, found);
  return found;
}

const points = (found: Findings) => found.events.map((e) => e.detectionPoint);
const only = (found: Findings): EdgeDetection => {
  assert.equal(found.events.length, 1, JSON.stringify(found.events));
  return found.events[0]!;
};

describe("request checks", () => {
  it("do nothing at all for an empty edge.detect", () => {
    const off = edgeOf("edge: { detect: [] }\n");
    assert.equal(off.on, false);
    assert.deepEqual(points(head(off, "PROPFIND", "/.env?q=<script>alert(1)</script>&id=' or 1=1")), []);
  });

  it("raise a detection point only when it is listed", () => {
    const xssOnly = edgeOf("edge: { detect: [IE1] }\n");
    assert.deepEqual(points(head(xssOnly, "PROPFIND", "/x?q=<script>alert(1)</script>&id=' or 1=1")), [
      "IE1",
    ]);
  });

  it("RE2: a method outside HEAD GET POST PUT DELETE TRACE OPTIONS CONNECT PATCH", () => {
    const e = only(head(all, "PROPFIND", "/files"));
    assert.equal(e.detectionPoint, "RE2");
    assert.deepEqual(e.metadata, { part: "method", matched: "PROPFIND" });
    for (const m of ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"])
      assert.deepEqual(points(head(all, m, "/files")), [], m);
  });

  it("RE3, RE4, RE1: a method a declared route does not expect", () => {
    assert.deepEqual(points(head(all, "GET", "/login")), ["RE3"]);
    assert.deepEqual(points(head(all, "POST", "/api/items/7")), ["RE4"]);
    assert.deepEqual(points(head(all, "DELETE", "/api/items/7")), ["RE1"]);
    // Expected methods, HEAD for a GET route, another spelling of the path, and undeclared paths.
    assert.deepEqual(points(head(all, "POST", "/login")), []);
    assert.deepEqual(points(head(all, "HEAD", "/api/items/7")), []);
    assert.deepEqual(points(head(all, "PUT", "/API/Items/7/")), []);
    assert.deepEqual(points(head(all, "GET", "/login/help")), []);
    assert.deepEqual(points(head(all, "PATCH", "/anything/x")), []);
    // An unsupported method is RE2 alone.
    assert.deepEqual(points(head(all, "PROPFIND", "/login")), ["RE2"]);
  });

  it("RE7: a parameter longer than edge.limits.paramLength", () => {
    const e = only(head(all, "GET", `/search?q=${"a".repeat(101)}`));
    assert.equal(e.detectionPoint, "RE7");
    assert.equal((e.metadata as { part: string }).part, "query:q");
    assert.deepEqual(points(head(all, "GET", `/search?q=${"a".repeat(100)}`)), []);
    // Decoded length counts: 40 escaped characters are 40, not 120.
    assert.deepEqual(points(head(all, "GET", `/search?q=${"%C3%A9".repeat(40)}`)), []);
    assert.deepEqual(points(body(all, "form", `comment=${"b".repeat(150)}`)), ["RE7"]);
  });

  it("EE1: double-encoded characters in the path or a parameter", () => {
    assert.deepEqual(points(head(all, "GET", "/search?q=%253Cscript%253E")), ["EE1"]);
    assert.deepEqual(points(head(all, "GET", "/files/%252e%252e%252fetc")), ["EE1", "IE3"]);
    assert.deepEqual(points(head(all, "GET", "/r?next=https%3A%2F%2Fexample.com%2Fa%3Fq%3Dx%2520y")), []);
  });

  it("CIE3: a null byte in the path or a parameter", () => {
    assert.deepEqual(points(head(all, "GET", "/download?file=report.pdf%00.png")), ["CIE3"]);
    assert.deepEqual(points(head(all, "GET", "/files/a%00.txt")), ["CIE3"]);
    assert.deepEqual(points(body(all, "json", '{"file":"a\\u0000.txt"}')), ["CIE3"]);
  });

  it("CIE4: CR or LF in the path or the query, not in bodies (textareas send line breaks)", () => {
    const e = only(head(all, "GET", "/r?lang=en%0d%0aSet-Cookie:%20x=1"));
    assert.equal(e.detectionPoint, "CIE4");
    assert.equal((e.metadata as { part: string }).part, "query:lang");
    assert.deepEqual(points(body(all, "form", "comment=line+one%0D%0Aline+two")), []);
    assert.deepEqual(points(body(all, "json", '{"comment":"line one\\nline two"}')), []);
  });

  it("IE1 and CIE1: signatures in the query, the path, urlencoded and JSON bodies", () => {
    const xss = only(head(all, "GET", "/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E"));
    assert.deepEqual(xss.metadata, { part: "query:q", matched: "<script>" });
    assert.deepEqual(points(head(all, "GET", "/search?q=%22%3E%3Cimg+src%3Dx+onerror%3Dalert(1)%3E")), [
      "IE1",
    ]);
    assert.deepEqual(points(head(all, "GET", "/%3Cscript%3Ealert(1)%3C/script%3E")), ["IE1"]);
    const sql = only(head(all, "GET", "/items?id=1%27+or+1%3D1--"));
    assert.equal(sql.detectionPoint, "CIE1");
    assert.equal((sql.metadata as { part: string }).part, "query:id");
    assert.deepEqual(points(body(all, "form", "user=admin%27--&password=x")), ["CIE1"]);
    assert.deepEqual(points(body(all, "json", '{"user":{"name":"x\' union select password from users"}}')), [
      "CIE1",
    ]);
    const j = only(body(all, "json", '{"items":[{"note":"<script>alert(1)</script>"}]}'));
    assert.equal((j.metadata as { part: string }).part, "body:items[0].note");
  });

  it("IE3: path traversal in the path or a parameter", () => {
    assert.deepEqual(points(head(all, "GET", "/files?name=../../etc/passwd")), ["IE3"]);
    assert.deepEqual(points(head(all, "GET", "/files?name=..%2f..%2fetc%2fpasswd")), ["IE3"]);
    assert.deepEqual(points(head(all, "GET", "/files?name=%c0%ae%c0%ae/etc/passwd")), ["IE3"]);
    assert.deepEqual(points(head(all, "GET", "/static/../../etc/passwd")), ["IE3"]);
    assert.deepEqual(points(head(all, "GET", "/static/%2e%2e/%2e%2e/etc/passwd")), ["IE3"]);
  });

  it("FIO1: a declared Content-Length over edge.limits.bodyBytes", () => {
    const e = only(head(all, "POST", "/upload", { "content-length": "1025" }));
    assert.equal(e.detectionPoint, "FIO1");
    assert.deepEqual(points(head(all, "POST", "/upload", { "content-length": "1024" })), []);
  });

  it("HT2: a decoy route requested, as an attempt", () => {
    const e = only(head(all, "GET", "/.env"));
    assert.equal(e.detectionPoint, "HT2");
    assert.equal(e.outcome, "attempt");
    assert.deepEqual(points(head(all, "GET", "/%2Eenv")), ["HT2"]);
    assert.deepEqual(points(head(all, "POST", "/wp-admin/setup-config.php")), ["HT2"]);
    assert.deepEqual(points(head(all, "GET", "/.envoy")), []);
  });

  it("a JSON body padded with numbers still has its strings checked", () => {
    const padded = `{"p":[${new Array(10_000).fill(0).join(",")}],"q":"' or 1=1--"}`;
    assert.deepEqual(points(body(all, "json", padded)), ["CIE1"]);
  });

  it("a JSON body that does not parse (cut at the scanned prefix) is matched whole, but is not RE7", () => {
    const cut = `{"items":[${'"ordinary text",'.repeat(200)}`;
    assert.ok(cut.length > 100, "longer than the policy's paramLength");
    assert.deepEqual(points(body(all, "json", cut)), []);
    assert.deepEqual(points(body(all, "json", `{"a":"<script>alert(1)</script>",`)), ["IE1"]);
  });

  it("a CORS preflight (OPTIONS) on a declared route is expected, not RE1", () => {
    assert.deepEqual(
      points(
        head(all, "OPTIONS", "/login", {
          "Access-Control-Request-Method": "POST",
          Origin: "https://app.example",
        }),
      ),
      [],
    );
  });

  it("HT3 is not raised by a Referer: a link on another page must not make a victim's browser use a decoy", () => {
    assert.deepEqual(points(head(all, "GET", "/x", { Referer: "https://evil.example/?t=backup_admin" })), []);
  });

  it("HT3: a decoy token in the target, a header, Basic credentials or the body, as a success", () => {
    const inQuery = only(head(all, "GET", "/records?ssn=7f3a9c-canary-ssn-000-00-0000"));
    assert.equal(inQuery.detectionPoint, "HT3");
    assert.equal(inQuery.outcome, "success");
    assert.deepEqual(inQuery.metadata, {
      evidence: { kind: "honeytoken-request", detail: "a declared decoy value was sent in target" },
      part: "target",
      matched: "7f3a9c-canary-ssn-000-00-0000",
    });
    assert.deepEqual(points(head(all, "GET", "/x", { Cookie: "remember=backup_admin" })), ["HT3"]);
    const basic = `Basic ${Buffer.from("backup_admin:hunter2").toString("base64")}`;
    const viaAuth = only(head(all, "GET", "/x", { Authorization: basic }));
    assert.equal((viaAuth.metadata as { part: string }).part, "header:authorization");
    assert.deepEqual(points(body(all, "form", "username=backup%5Fadmin&password=x")), ["HT3"]);
    assert.deepEqual(points(body(all, "json", '{"username":"backup_admin"}')), ["HT3"]);
    assert.deepEqual(points(body(all, null, "raw text with backup_admin inside")), ["HT3"]);
    assert.deepEqual(points(head(all, "GET", "/x?user=backup_administrator2")), ["HT3"]);
    assert.deepEqual(points(head(all, "GET", "/x?user=backup-admin")), []);
  });

  it("raise each detection point once per request, however many parameters match", () => {
    const q = Array.from({ length: 50 }, (_, i) => `p${i}=%3Cscript%3E`).join("&");
    assert.deepEqual(points(head(all, "GET", `/x?${q}`)), ["IE1"]);
  });

  it("stay silent on ordinary requests", () => {
    for (const target of [
      "/",
      "/search?q=O%27Brien",
      "/search?q=d%27Artagnan+and+friends",
      "/search?q=rug+5%27+x+10%27",
      "/search?q=I+%3C3+this",
      "/search?q=select+a+union+rep",
      `/search?q=${"long+search+string+".repeat(5)}`,
      "/r?next=https%3A%2F%2Fexample.com%2Fpath%3Fa%3D1%26b%3D2",
      "/products/shoes?utm_source=news&utm_medium=email&fbclid=IwAR2x",
      "/api/items/42",
      "/assets/app.3f2a1c.js",
      "/blog/2024/05/why-we-moved...-and-what-next",
    ]) {
      assert.deepEqual(points(head(all, "GET", target)), [], target);
    }
    for (const text of [
      "name=O%27Brien&comment=**bold**+and+%60code%60%0D%0A%60%60%60js%0D%0Aa+%7C%7C+b%0D%0A%60%60%60",
      "comment=%3Cb%3Ebold%3C%2Fb%3E+and+a+%3Ca+href%3D%22https%3A%2F%2Fexample.com%22%3Elink%3C%2Fa%3E",
    ]) {
      assert.deepEqual(points(body(all, "form", text)), [], text);
    }
    assert.deepEqual(
      points(
        body(
          all,
          "json",
          '{"name":"Miles O\'Brien","bio":"**bold**\\n```\\nx = a || b\\n```","tags":["a","b"]}',
        ),
      ),
      [],
    );
  });
});

describe("hostile requests", () => {
  it("never throw on malformed escapes, invalid UTF-8, invalid JSON or 10 000 parameters", () => {
    const targets = [
      "/x?q=%",
      "/x?q=%zz%4",
      "/x?%=%&&&==&",
      "/x?q=%ff%fe%c3%28",
      `/x?${Array.from({ length: 10_000 }, (_, i) => `a${i}=${i}`).join("&")}`,
      `/x?${"n".repeat(100_000)}=v`,
      `/x?q=${"%41".repeat(30_000)}`,
    ];
    for (const t of targets) head(all, "GET", t);
    for (const text of [
      "{",
      '{"a":',
      "[".repeat(100_000),
      '{"a":"\\ud800"}',
      "\u0000\u0001",
      "a=%&b=%e0%80",
    ]) {
      body(all, "json", text);
      body(all, "form", text);
    }
  });

  it("bound the name recorded for a huge parameter name", () => {
    const found = head(all, "GET", `/x?${"n".repeat(100_000)}=%3Cscript%3E`);
    const part = (found.events[0]!.metadata as { part: string }).part;
    assert.ok(part.length <= "query:".length + 64, part);
  });
});
