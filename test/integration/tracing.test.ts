/**
 * Tracing through @opentelemetry/api: with an SDK registered, one server span per request,
 * continued from the client's traceparent and continued by the app; without one, the client's
 * traceparent reaches the app untouched.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { context, propagation, SpanKind, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { createGatehouse, type Gatehouse } from "../../src/app.ts";
import { loadConfig } from "../../src/config/load.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { loadPolicySources } from "../../src/policy/load.ts";
import { client } from "../helpers/client.ts";
import { type FakeApp, fakeApp } from "../helpers/fake-app.ts";
import { type GatehouseProcess, startGatehouse } from "../helpers/gatehouse.ts";

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN = "00f067aa0ba902b7";
const TRACEPARENT = `00-${TRACE_ID}-${CLIENT_SPAN}-01`;

describe("tracing with an OpenTelemetry SDK registered", () => {
  const exporter = new InMemorySpanExporter();
  let app: FakeApp;
  let gatehouse: Gatehouse;
  let proxy: string;

  before(async () => {
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    );
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    app = await fakeApp((_req, res) => {
      res.statusCode = 201;
      res.end("made");
    });
    const loaded = loadConfig({
      flags: new Map([
        ["listen", ["127.0.0.1:0"]],
        ["adminListen", ["127.0.0.1:0"]],
        ["upstream", [app.upstream]],
        ["eventsSocket", ["off"]],
      ]),
    });
    assert.ok(loaded.ok);
    const policy = loadPolicySources([{ name: "empty.yaml", text: "" }]);
    assert.ok(policy.ok);
    gatehouse = createGatehouse(loaded.config, createLogger("silent"), { policy: policy.policy });
    proxy = (await gatehouse.start()).proxy;
  });

  after(async () => {
    await gatehouse?.stop();
    await app?.close();
    trace.disable();
    propagation.disable();
    context.disable();
  });

  it("records one server span per request, child of the client's trace, and the app continues it", async () => {
    const c = client(`http://${proxy}`);
    const res = await c.send("/orders?id=7", {
      method: "POST",
      body: "x",
      headers: { traceparent: TRACEPARENT },
    });
    await c.close();
    assert.equal(res.status, 201);

    const [span] = exporter.getFinishedSpans();
    assert.ok(span, "a span was exported");
    assert.equal(exporter.getFinishedSpans().length, 1);
    assert.equal(span.kind, SpanKind.SERVER);
    assert.equal(span.spanContext().traceId, TRACE_ID);
    assert.equal(span.parentSpanContext?.spanId, CLIENT_SPAN);
    const seen = app.requests.at(-1)!;
    assert.equal(span.attributes["http.request.method"], "POST");
    assert.equal(span.attributes["url.path"], "/orders?id=7");
    assert.equal(span.attributes["http.response.status_code"], 201);
    assert.equal(span.attributes["gatehouse.request_id"], seen.headers["x-request-id"]);

    // The app's parent is Gatehouse's span, in the same trace.
    assert.equal(seen.headers.traceparent, `00-${TRACE_ID}-${span.spanContext().spanId}-01`);
  });
});

describe("tracing without an SDK", () => {
  let app: FakeApp;
  let gh: GatehouseProcess;

  before(async () => {
    app = await fakeApp((_req, res) => {
      res.end("ok");
    });
    gh = await startGatehouse({ upstream: app.upstream });
  });

  after(async () => {
    await gh?.kill();
    await app?.close();
  });

  it("passes the client's traceparent and tracestate to the app unchanged", async () => {
    const c = client(gh.proxyUrl);
    await c.send("/", { headers: { traceparent: TRACEPARENT, tracestate: "vendor=opaque" } });
    await c.close();
    const seen = app.requests.at(-1)!;
    assert.equal(seen.headers.traceparent, TRACEPARENT);
    assert.equal(seen.headers.tracestate, "vendor=opaque");
  });
});
