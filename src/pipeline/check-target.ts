/**
 * Stage 0: the request must be HTTP/1.x and its target something the app can be asked for. Absolute-form targets
 * (RFC 9112 section 3.2.2) are reduced to origin form; `*` and authority forms end the request.
 */
import type { IncomingMessage } from "node:http";
import type { RequestContext } from "./context.ts";
import type { Outcome } from "./outcome.ts";

export function checkTarget(ctx: RequestContext, req: IncomingMessage): Outcome | undefined {
  // Node's parser takes a request line without a version as HTTP/0.9; nothing behind a proxy wants that.
  if (req.httpVersionMajor !== 1) {
    return { kind: "error", code: "UNSUPPORTED_VERSION", cause: `HTTP/${req.httpVersion} request` };
  }
  // RFC 9112 section 3.2: a request with more than one Host is answered 400 (undici would refuse
  // to forward it, and the app could pick either).
  const raw = req.rawHeaders;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === "host" && ++hosts > 1) {
      return { kind: "error", code: "DUPLICATE_HOST", cause: "more than one Host header" };
    }
  }
  const url = req.url ?? "";
  if (url.charCodeAt(0) === 47 /* / */) {
    ctx.target = url;
    return undefined;
  }
  if (/^https?:\/\//i.test(url)) {
    try {
      const parsed = new URL(url);
      ctx.target = parsed.pathname + parsed.search;
      return undefined;
    } catch {
      // falls through to the error below
    }
  }
  return {
    kind: "error",
    code: "BAD_REQUEST_TARGET",
    cause: "request target is not origin or absolute form",
  };
}
