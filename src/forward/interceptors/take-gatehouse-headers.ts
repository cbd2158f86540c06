/**
 * Takes the app's `Gatehouse-*` response headers (detection events, user) out of the response:
 * they are handed to the request's `onGatehouseHeaders` and never reach the client (DESIGN 3.1).
 */
import type { Dispatcher } from "undici";
import { isGatehouseHeader } from "../hop-by-hop.ts";
import { PassThroughHandler, type ResponseHeaders } from "./pass-through-handler.ts";

export type GatehouseHeaders = Record<string, string | string[]>;

/** Dispatch options as Gatehouse passes them: undici's, plus a sink for the app's Gatehouse headers. */
export interface GatehouseDispatchOptions extends Dispatcher.DispatchOptions {
  onGatehouseHeaders?: (headers: GatehouseHeaders) => void;
}

class TakeGatehouseHeadersHandler extends PassThroughHandler {
  readonly #sink: ((headers: GatehouseHeaders) => void) | undefined;

  constructor(next: Dispatcher.DispatchHandler, sink: ((headers: GatehouseHeaders) => void) | undefined) {
    super(next);
    this.#sink = sink;
  }

  override onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: ResponseHeaders,
    statusMessage?: string,
  ): void {
    let taken: GatehouseHeaders | null = null;
    for (const name of Object.keys(headers)) {
      if (!isGatehouseHeader(name)) continue;
      const value = headers[name];
      if (value !== undefined) {
        taken ??= {};
        taken[name] = value;
      }
      delete headers[name];
    }
    if (taken && this.#sink) this.#sink(taken);
    super.onResponseStart(controller, statusCode, headers, statusMessage);
  }
}

export function takeGatehouseHeaders(): Dispatcher.DispatcherComposeInterceptor {
  return function takeGatehouseHeadersInterceptor(dispatch) {
    return function dispatchTaking(opts, handler) {
      const sink = (opts as GatehouseDispatchOptions).onGatehouseHeaders;
      return dispatch(opts, new TakeGatehouseHeadersHandler(handler, sink));
    };
  };
}
