/**
 * The detectAtEdge stage: it publishes through intake.fromEdge with the request's facts, flags
 * the request (ctx.detections), taps a body without taking a byte from the reader behind it,
 * raises body detections when the body ends and FIO1 as a chunked body crosses the limit, counts
 * UT2 once per window, and does nothing for an empty edge.detect.
 */
import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import { Correlation } from "../../../../src/events/correlation.ts";
import type { EdgeDetection, HeaderSource, Intake } from "../../../../src/events/intake.ts";
import type { RequestContext } from "../../../../src/pipeline/context.ts";
import { BODY_SCAN_BYTES, createEdgeDetection } from "../../../../src/pipeline/detect-at-edge.ts";
import { createReadDetections } from "../../../../src/pipeline/read-detections.ts";
import { formatPolicyProblem, loadPolicySources } from "../../../../src/policy/load.ts";
import type { Policy } from "../../../../src/policy/policy.ts";
import { ManualClock } from "../../../../src/store/clock.ts";
import { waitFor } from "../../../helpers/wait.ts";

function policyOf(yaml: string): Policy {
  const result = loadPolicySources([{ name: "p.yaml", text: yaml }]);
  assert.ok(result.ok, result.ok ? "" : result.problems.map(formatPolicyProblem).join("\n"));
  return result.policy;
}

function setup(yaml: string) {
  const published: { source: HeaderSource; events: readonly EdgeDetection[] }[] = [];
  const clock = new ManualClock(1_800_000_000_000);
  const policy = policyOf(yaml);
  const edge = createEdgeDetection({
    policy: () => policy,
    intake: { fromEdge: (source, events) => published.push({ source, events }) },
    clock,
  });
  return { edge, published, clock };
}

function context(method: string, target: string, ip = "203.0.113.5"): RequestContext {
  return {
    requestId: "req-1",
    method,
    target,
    clientIp: ip,
    sessionId: null,
    user: null,
    detections: null,
  } as unknown as RequestContext;
}

/** A request: a PassThrough stream with the head Node would parse. */
function incoming(headers: Record<string, string>): IncomingMessage & PassThrough {
  const req = new PassThrough() as unknown as IncomingMessage & PassThrough;
  Object.assign(req, {
    headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])),
    rawHeaders: Object.entries(headers).flat(),
  });
  return req;
}

/** What undici does with a stream body: attach its listener, resume, read to the end. */
function drain(req: PassThrough): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.resume();
  });
}

/** A multipart form through the stage, read to its end as undici would: what the app received. */
function postForm(
  edge: ReturnType<typeof setup>["edge"],
  ctx: RequestContext,
  boundary: string,
  body: string,
): Promise<Buffer> {
  const req = incoming({
    "Content-Type": `multipart/form-data; boundary=${boundary}`,
    "Content-Length": String(Buffer.byteLength(body)),
  });
  edge.detectAtEdge(ctx, req);
  const read = drain(req);
  req.end(body);
  return read;
}

const points = (published: { events: readonly EdgeDetection[] }[]) =>
  published.flatMap((p) => p.events.map((e) => e.detectionPoint));

describe("detectAtEdge", () => {
  it("does nothing for an empty edge.detect", () => {
    const { edge, published } = setup("edge: { detect: [] }\n");
    const ctx = context("GET", "/x?q=<script>");
    assert.equal(edge.detectAtEdge(ctx, incoming({})), undefined);
    assert.equal(ctx.detections, null);
    assert.deepEqual(published, []);
  });

  it("publishes with the request's facts and flags the request", () => {
    const { edge, published } = setup("edge: { detect: [IE1] }\n");
    const ctx = context("GET", "/search?q=%3Cscript%3Ealert(1)%3C/script%3E");
    edge.detectAtEdge(ctx, incoming({}));
    assert.equal(published.length, 1);
    const { source, events } = published[0]!;
    assert.equal(source.requestId, "req-1");
    assert.equal(source.ip, "203.0.113.5");
    assert.equal(source.path, "/search?q=%3Cscript%3Ealert(1)%3C/script%3E");
    assert.equal(events[0]!.detectionPoint, "IE1");
    assert.deepEqual(ctx.detections, [
      { detectionPoint: "IE1", channel: "edge", part: "query:q", matched: "<script>" },
    ]);
  });

  it("taps a urlencoded body without taking bytes from the reader, and reports at its end", async () => {
    const { edge, published } = setup("edge: { detect: [CIE1, IE1] }\n");
    const ctx = context("POST", "/login");
    const text = "user=admin%27--&password=x";
    const req = incoming({
      "Content-Type": "application/x-www-form-urlencoded",
      "Content-Length": String(text.length),
    });
    edge.detectAtEdge(ctx, req);
    // The tap must not start the stream on its own: data written now waits for the real reader.
    req.write(text.slice(0, 7));
    await new Promise((r) => setImmediate(r));
    assert.equal(req.readableFlowing, false);
    const read = drain(req);
    req.end(text.slice(7));
    assert.equal((await read).toString(), text);
    assert.deepEqual(points(published), ["CIE1"]);
    assert.equal(ctx.detections?.[0]?.part, "body:user");
  });

  it("checks the text fields of a multipart form, not its files, and passes the body on whole", async () => {
    const { edge, published } = setup("edge: { detect: [CIE1, IE1] }\n");
    const ctx = context("POST", "/profile");
    const b = "----gatehouse-test";
    const body = [
      `--${b}\r\nContent-Disposition: form-data; name="avatar"; filename="a.txt"\r\n\r\n<script>in a file</script>\r\n`,
      `--${b}\r\nContent-Disposition: form-data; name="bio"\r\n\r\nhello\r\n`,
      // The last field: busboy hands it over only after the input has ended.
      `--${b}\r\nContent-Disposition: form-data; name="name"\r\n\r\nx' OR 1=1 --\r\n--${b}--\r\n`,
    ].join("");
    assert.equal((await postForm(edge, ctx, b, body)).toString(), body);
    await waitFor(async () => published.length > 0, "the field findings");
    // The file's content is the app's (an upload may hold anything): only CIE1 from the field.
    assert.deepEqual(points(published), ["CIE1"]);
    assert.equal(ctx.detections?.[0]?.part, "body:name");
  });

  it("a multipart body's field findings follow its other findings, each point once", async () => {
    const { edge, published } = setup(
      'edge: { detect: [IE1, CIE1, HT3], honeyTraps: { tokens: ["7f3a9c-canary-token"] } }\n',
    );
    const ctx = context("POST", "/notes?q=%3Cscript%3E");
    const b = "b0undary";
    const body = [
      `--${b}\r\nContent-Disposition: form-data; name="f"; filename="n.txt"\r\n\r\n7f3a9c-canary-token\r\n`,
      `--${b}\r\nContent-Disposition: form-data; name="again"\r\n\r\n<script>alert(2)</script>\r\n`,
      `--${b}\r\nContent-Disposition: form-data; name="id"\r\n\r\n1 UNION SELECT password FROM users\r\n--${b}--\r\n`,
    ].join("");
    await postForm(edge, ctx, b, body);
    await waitFor(async () => points(published).includes("CIE1"), "the field findings");
    // IE1 from the query (the head), HT3 from the body's text (at its end), CIE1 from a field
    // (a tick later); the field's IE1 is the request's second and is not raised again.
    assert.deepEqual(points(published), ["IE1", "HT3", "CIE1"]);
    assert.deepEqual(
      ctx.detections?.map((d) => `${d.detectionPoint} ${d.part}`),
      ["IE1 query:q", "HT3 body", "CIE1 body:id"],
    );
  });

  it("a multipart body cut at the scanned prefix still has its fields before the cut checked", async () => {
    const { edge, published } = setup("edge: { detect: [IE1] }\n");
    const ctx = context("POST", "/upload");
    const b = "xyz";
    const head = `--${b}\r\nContent-Disposition: form-data; name="title"\r\n\r\n<script>alert(1)</script>\r\n`;
    const file = `--${b}\r\nContent-Disposition: form-data; name="f"; filename="big.bin"\r\n\r\n`;
    const req = incoming({
      "Content-Type": `multipart/form-data; boundary=${b}`,
      "Transfer-Encoding": "chunked",
    });
    edge.detectAtEdge(ctx, req);
    const read = drain(req);
    req.write(head + file);
    req.write(Buffer.alloc(BODY_SCAN_BYTES * 2, "a"));
    req.end(`\r\n--${b}--\r\n`);
    assert.equal((await read).length, Buffer.byteLength(head + file) + BODY_SCAN_BYTES * 2 + 11);
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(points(published), ["IE1"]);
    assert.equal(ctx.detections?.[0]?.part, "body:title");
  });

  it("scans only a bounded prefix of a large JSON body, and passes all of it on", async () => {
    const { edge, published } = setup("edge: { detect: [IE1] }\n");
    const ctx = context("POST", "/api/notes");
    const req = incoming({ "Content-Type": "application/json", "Transfer-Encoding": "chunked" });
    edge.detectAtEdge(ctx, req);
    const read = drain(req);
    const filler = "x".repeat(BODY_SCAN_BYTES);
    const first = `{"a":"${filler}",`;
    const rest = '"b":"<script>alert(1)</script>"}';
    req.write(first);
    req.end(rest);
    assert.equal((await read).toString(), first + rest);
    // Past the prefix the document is cut, scanned as text: the payload sits beyond it.
    assert.deepEqual(points(published), []);
  });

  it("FIO1: counts a chunked body as it streams and reports as it crosses the limit", async () => {
    const { edge, published } = setup("edge: { detect: [FIO1], limits: { bodyBytes: 1KB } }\n");
    const ctx = context("POST", "/upload");
    const req = incoming({ "Content-Type": "application/octet-stream", "Transfer-Encoding": "chunked" });
    edge.detectAtEdge(ctx, req);
    const read = drain(req);
    req.write(Buffer.alloc(1000));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(points(published), []);
    req.write(Buffer.alloc(100));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(points(published), ["FIO1"], "reported before the body ends");
    req.end(Buffer.alloc(5000));
    assert.equal((await read).length, 6100);
    assert.deepEqual(points(published), ["FIO1"], "once");
  });

  it("HT3 in a body of any type, as a success", async () => {
    const { edge, published } = setup('edge: { detect: [HT3], honeyTraps: { tokens: ["7f3a9c-canary"] } }\n');
    const req = incoming({ "Content-Type": "text/plain", "Content-Length": "20" });
    edge.detectAtEdge(context("POST", "/x"), req);
    const read = drain(req);
    req.end("id=7f3a9c-canary&x=1");
    await read;
    assert.deepEqual(
      published.flatMap((p) => p.events.map((e) => [e.detectionPoint, e.outcome])),
      [["HT3", "success"]],
    );
  });

  it("UT2: once per address and window over edge.limits.requestRate", () => {
    const { edge, published, clock } = setup("edge: { detect: [UT2], limits: { requestRate: 5/s } }\n");
    for (let i = 0; i < 20; i++) edge.detectAtEdge(context("GET", "/"), incoming({}));
    assert.deepEqual(points(published), ["UT2"]);
    // Another address is not counted with it.
    for (let i = 0; i < 5; i++) edge.detectAtEdge(context("GET", "/", "203.0.113.6"), incoming({}));
    assert.deepEqual(points(published), ["UT2"]);
    clock.advance(2000);
    for (let i = 0; i < 20; i++) edge.detectAtEdge(context("GET", "/"), incoming({}));
    assert.deepEqual(points(published), ["UT2", "UT2"]);
  });
});

describe("readDetections", () => {
  it("flags the request with the app's Gatehouse-Event detections, beside the edge's", () => {
    const clock = new ManualClock(0);
    const intake = { fromHeaders: () => null } as unknown as Intake;
    const read = createReadDetections(intake, new Correlation({ capacity: 8, ttlMs: 1000, clock }));
    const ctx = context("GET", "/x");
    ctx.detections = [{ detectionPoint: "IE1", channel: "edge", part: "query:q", matched: "<script>" }];
    Object.assign(ctx, { trace: { span: { isRecording: () => false } } });
    read(ctx, { "gatehouse-event": 'CIE1;outcome=blocked, AE2;detail="x"' });
    assert.deepEqual(ctx.detections, [
      { detectionPoint: "IE1", channel: "edge", part: "query:q", matched: "<script>" },
      { detectionPoint: "CIE1", channel: "header", part: null, matched: null },
      { detectionPoint: "AE2", channel: "header", part: null, matched: null },
    ]);
    const quiet = context("GET", "/y");
    Object.assign(quiet, { trace: { span: { isRecording: () => false } } });
    read(quiet, { "gatehouse-user": "alice" });
    read(quiet, { "gatehouse-event": "(((not a list" });
    assert.equal(quiet.detections, null);
  });
});
