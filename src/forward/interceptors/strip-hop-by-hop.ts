/**
 * Removes hop-by-hop response headers and those named in the app's `Connection` header before
 * they reach the client (RFC 9110 section 7.6.1). Node writes its own framing headers.
 */
import type { Dispatcher } from "undici";
import { connectionListed, HOP_BY_HOP } from "../hop-by-hop.ts";
import { PassThroughHandler, type ResponseHeaders } from "./pass-through-handler.ts";

class StripHopByHopHandler extends PassThroughHandler {
  override onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: ResponseHeaders,
    statusMessage?: string,
  ): void {
    const listed = connectionListed(headers.connection);
    for (const name of Object.keys(headers)) {
      if (HOP_BY_HOP.has(name) || listed?.has(name)) delete headers[name];
    }
    super.onResponseStart(controller, statusCode, headers, statusMessage);
  }
}

export function stripHopByHop(): Dispatcher.DispatcherComposeInterceptor {
  return function stripHopByHopInterceptor(dispatch) {
    return function dispatchStripped(opts, handler) {
      return dispatch(opts, new StripHopByHopHandler(handler));
    };
  };
}
