/**
 * Stage detectAtEdge (DESIGN 3.3): Gatehouse raises the detection points visible in HTTP itself,
 * each switched on in policy `edge.detect`. It never ends a request and never waits: the head is
 * checked at once, and a body is watched as it streams to the app (a tap beside the forwarder's
 * own reader, never a buffer in front of it). What it finds becomes events on channel `edge`
 * (intake.fromEdge) and entries of `ctx.detections`, so the response is inspected for evidence.
 *
 * The status side (`observeStatus`) runs at the app's response headers: ACE3, AE2, AE3 and the
 * login evidence of src/events/edge/status-checks.ts.
 */
import type { IncomingMessage } from "node:http";
import type { Rate } from "../config/units.ts";
import { type CompiledEdge, compiledEdge } from "../events/edge/compile-edge.ts";
import { Findings } from "../events/edge/findings.ts";
import { multipartFields } from "../events/edge/multipart.ts";
import { bodyKind } from "../events/edge/parameters.ts";
import { SlidingCounter } from "../events/edge/rate-tracker.ts";
import {
  checkBody,
  checkHead,
  checkMultipartFields,
  checkTokensInBody,
} from "../events/edge/request-checks.ts";
import { createStatusChecks, type ResponseHeadersLike } from "../events/edge/status-checks.ts";
import type { EdgeDetection, Intake } from "../events/intake.ts";
import type { Policy } from "../policy/policy.ts";
import type { Clock } from "../store/clock.ts";
import type { RequestContext } from "./context.ts";
import type { Outcome } from "./outcome.ts";
import { requestSource } from "./request-source.ts";

/**
 * Bytes of a request body scanned for parameters and decoy tokens. The body streams on to the app
 * whole; only this much of it is copied aside (one buffer per scanned request, allocated on the
 * first chunk). A payload placed past it is the app's to find.
 */
export const BODY_SCAN_BYTES = 64 * 1024;

export interface EdgeDetectionDeps {
  /** The current policy (hot reloaded); its `edge:` is compiled once per Policy object. */
  policy: () => Policy;
  intake: Pick<Intake, "fromEdge">;
  clock: Clock;
  /** The session cookies' names (identity.sessionCookies), to tell a login from a flash cookie. */
  sessionCookies?: () => readonly string[];
  /** A check that failed on a request body (it is reported; the request is not affected). */
  onError?: (err: unknown) => void;
}

export interface EdgeDetector {
  /** The request stage; always goes on (returns undefined). */
  detectAtEdge(ctx: RequestContext, req: IncomingMessage): Outcome | undefined;
  /** At the app's response headers, before the body: the status-side checks. */
  observeStatus(ctx: RequestContext, statusCode: number, headers: ResponseHeadersLike): void;
}

export function createEdgeDetection(deps: EdgeDetectionDeps): EdgeDetector {
  const now = () => deps.clock.now();
  const statusDetections = createStatusChecks(now, deps.sessionCookies);
  // UT2 counts per address; rebuilt only when a reload changes the window.
  let rates: SlidingCounter | null = null;

  const source = (ctx: RequestContext) => requestSource(ctx, now());

  /** Publish what was found since the last call, and flag the request with it. */
  function report(ctx: RequestContext, found: Findings, from: number): number {
    const n = found.size;
    if (n === from) return n;
    ctx.detections ??= [];
    const detections = ctx.detections;
    for (let i = from; i < n; i++) detections.push(found.detections[i]!);
    // A copy: the findings go on growing as the body streams, and what was published stays as it was.
    deps.intake.fromEdge(source(ctx), found.events.slice(from));
    return n;
  }

  function checkRate(rate: Rate, ctx: RequestContext, found: Findings): void {
    if (rates === null || rates.windowMs !== rate.perMs) rates = new SlidingCounter(rate.perMs);
    const { rate: seen, slot } = rates.hit(ctx.clientIp, now());
    // At most one UT2 per address and window: the policy threshold counts windows over the rate.
    if (slot === null || slot.fired || seen <= rate.count) return;
    slot.fired = true;
    const q = ctx.target.indexOf("?");
    found.add(
      "UT2",
      "attempt",
      `${Math.round(seen)} requests within ${rate.perMs / 1000}s (limit ${rate.count})`,
      "path",
      q === -1 ? ctx.target : ctx.target.slice(0, q),
    );
  }

  function detectAtEdge(ctx: RequestContext, req: IncomingMessage): Outcome | undefined {
    const edge = compiledEdge(deps.policy());
    if (!edge.on) return undefined;
    const found = new Findings();
    const headers = req.headers;
    checkHead(
      edge,
      {
        method: ctx.method,
        target: ctx.target,
        rawHeaders: req.rawHeaders,
        contentLength: headers["content-length"],
      },
      found,
    );
    if (edge.requestRate !== null && edge.detect.has("UT2")) checkRate(edge.requestRate, ctx, found);
    const sent = report(ctx, found, 0);
    const chunked = headers["transfer-encoding"] !== undefined;
    if (chunked || (headers["content-length"] !== undefined && headers["content-length"] !== "0")) {
      watchBody(edge, ctx, req, found, sent, chunked);
    }
    return undefined;
  }

  /**
   * Tap the body as it streams to the app. The stream is paused first, so this listener does not
   * set it flowing before the forwarder attaches its own (undici resumes it when it starts to
   * send); both then see every chunk, and undici's backpressure pauses both alike.
   */
  function watchBody(
    edge: CompiledEdge,
    ctx: RequestContext,
    req: IncomingMessage,
    found: Findings,
    sent: number,
    chunked: boolean,
  ): void {
    const kind = bodyKind(req.headers["content-type"]);
    const collect = (edge.params && kind !== null) || edge.tokens !== null;
    // A declared length over the limit was reported from the head; a chunked body is counted.
    const limit = chunked && edge.detect.has("FIO1") ? edge.bodyBytes : null;
    if (!collect && limit === null) return;
    let total = 0;
    let kept = 0;
    let prefix: Buffer | null = null;
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (limit !== null && total > limit && !found.has("FIO1")) {
        found.add("FIO1", "attempt", `chunked request body over ${limit} bytes`, "body", String(total));
        sent = report(ctx, found, sent);
      }
      if (collect && kept < BODY_SCAN_BYTES && (prefix === null || kept < prefix.length)) {
        // Sized to the body when it says how long it is: a 200-byte form needs no 64 KiB buffer.
        prefix ??= Buffer.allocUnsafe(scanBytes(req.headers["content-length"]));
        kept += chunk.copy(prefix, kept, 0, Math.min(chunk.length, prefix.length - kept));
      }
      if (kept >= BODY_SCAN_BYTES && (limit === null || found.has("FIO1"))) req.off("data", onData);
    };
    req.pause();
    req.on("data", onData);
    req.once("end", () => {
      req.off("data", onData);
      if (prefix === null) return;
      // An event handler: nothing above it would catch a throw, and hostile bodies must cost
      // their own detection at most, never the process.
      try {
        // An urlencoded body is bytes to percent-decode (latin1 keeps one byte per character).
        const text = prefix.toString(kind === "form" ? "latin1" : "utf8", 0, kept);
        checkBody(edge, kind, text, found);
        if (edge.tokens !== null) checkTokensInBody(edge.tokens, kind, text, found);
        sent = report(ctx, found, sent);
        if (kind === "multipart" && edge.params) {
          // Its parser hands the fields over a tick later: those findings are reported on their own.
          const contentType = req.headers["content-type"] ?? "";
          multipartFields(prefix.subarray(0, kept), contentType, (fields) => {
            try {
              checkMultipartFields(edge, fields, found);
              report(ctx, found, sent);
            } catch (err) {
              deps.onError?.(err);
            }
          });
        }
      } catch (err) {
        deps.onError?.(err);
      }
    });
  }

  function observeStatus(ctx: RequestContext, statusCode: number, headers: ResponseHeadersLike): void {
    const edge = compiledEdge(deps.policy());
    if (!edge.statusSide) return;
    const found: EdgeDetection[] | null = statusDetections(edge, ctx, statusCode, headers);
    if (found !== null) deps.intake.fromEdge(source(ctx), found);
  }

  return { detectAtEdge, observeStatus };
}

/** Bytes of a body to keep for its checks: its declared length, at most BODY_SCAN_BYTES. */
function scanBytes(contentLength: string | undefined): number {
  const n = contentLength === undefined ? Number.NaN : Number(contentLength);
  return Number.isInteger(n) && n > 0 && n < BODY_SCAN_BYTES ? n : BODY_SCAN_BYTES;
}
