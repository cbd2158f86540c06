/**
 * Tracing through @opentelemetry/api only: Gatehouse never bundles an SDK. With none registered
 * the API hands out non-recording spans and no-op propagators, so the per-request cost is one
 * small object; attributes are set only when the span records. See docs/operations.md for
 * registering an SDK with an OTLP exporter.
 */

import type { IncomingHttpHeaders } from "node:http";
import {
  type Context,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";

export type { Span } from "@opentelemetry/api";

const headerGetter = {
  get(carrier: IncomingHttpHeaders, key: string) {
    return carrier[key];
  },
  keys(carrier: IncomingHttpHeaders) {
    return Object.keys(carrier);
  },
};

export interface RequestSpan {
  span: Span;
  /** The context the span was started in (the client's trace, or the root). */
  parent: Context;
}

export function createTracing(version: string) {
  const tracer: Tracer = trace.getTracer("gatehouse", version);

  /** One server span per proxied request, child of the client's W3C traceparent if any. */
  function startRequestSpan(method: string, headers: IncomingHttpHeaders): RequestSpan {
    const parent = headers.traceparent
      ? propagation.extract(ROOT_CONTEXT, headers, headerGetter)
      : ROOT_CONTEXT;
    const span = tracer.startSpan(method, { kind: SpanKind.SERVER }, parent);
    return { span, parent };
  }

  /**
   * Headers to send upstream so the app continues this trace; null when there is nothing to
   * inject (no SDK: the client's own traceparent is forwarded unchanged).
   */
  function outgoingTraceHeaders(rs: RequestSpan): Record<string, string> | null {
    if (!isSpanContextValid(rs.span.spanContext())) return null;
    const carrier: Record<string, string> = {};
    // The span's context is built only here: with no SDK the span context is invalid and this never runs.
    propagation.inject(trace.setSpan(rs.parent, rs.span), carrier);
    return carrier;
  }

  return { startRequestSpan, outgoingTraceHeaders };
}

export type Tracing = ReturnType<typeof createTracing>;

/** Standard HTTP server attributes (OpenTelemetry semantic conventions), set only when recording. */
export function describeRequestSpan(
  span: Span,
  attrs: { method: string; route: string; clientIp: string; requestId: string; host: string | undefined },
): void {
  if (!span.isRecording()) return;
  span.updateName(`${attrs.method}`);
  span.setAttributes({
    "http.request.method": attrs.method,
    "url.path": attrs.route,
    "client.address": attrs.clientIp,
    "server.address": attrs.host ?? "",
    "gatehouse.request_id": attrs.requestId,
  });
}

export function endRequestSpan(span: Span, status: number, error?: string): void {
  if (!span.isRecording()) return;
  span.setAttribute("http.response.status_code", status);
  if (status >= 500 || error)
    span.setStatus({ code: SpanStatusCode.ERROR, message: error ?? String(status) });
  span.end();
}
