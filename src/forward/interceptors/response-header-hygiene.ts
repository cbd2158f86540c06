/**
 * Response header hygiene, in one pass over the app's headers before the client sees them:
 * hop-by-hop headers and those named in the app's `Connection` are removed (RFC 9110 section
 * 7.6.1; Node writes its own framing), and the app's `Gatehouse-*` headers (detection events,
 * user) are taken out and handed to the request's `onGatehouseHeaders` (DESIGN 3.1).
 */
import type { Dispatcher } from "undici";
import { connectionListed, HOP_BY_HOP, isGatehouseHeader } from "../hop-by-hop.ts";
import { PassThroughHandler, type ResponseHeaders } from "./pass-through-handler.ts";

export type GatehouseHeaders = Record<string, string | string[]>;

/** Dispatch options as Gatehouse passes them: undici's, plus a sink for the app's Gatehouse headers. */
export interface GatehouseDispatchOptions extends Dispatcher.DispatchOptions {
  onGatehouseHeaders?: (headers: GatehouseHeaders) => void;
}

class ResponseHeaderHygieneHandler extends PassThroughHandler {
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
    const listed = connectionListed(headers.connection);
    let taken: GatehouseHeaders | null = null;
    // A new object of the headers kept rather than `delete` on undici's: deleting turns an object
    // into a slow dictionary that writeHead then walks, and a Node app always sends two
    // hop-by-hop headers (connection, keep-alive).
    let kept: ResponseHeaders | null = null;
    const names = Object.keys(headers);
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      const hop = HOP_BY_HOP.has(name) || listed?.has(name) === true;
      const ours = !hop && isGatehouseHeader(name);
      if (hop || ours) {
        if (kept === null) {
          kept = {};
          for (let j = 0; j < i; j++) copy(kept, names[j]!, headers[names[j]!]);
        }
        const value = headers[name];
        if (ours && value !== undefined) {
          taken ??= {};
          taken[name] = value;
        }
      } else if (kept !== null) copy(kept, name, headers[name]);
    }
    if (taken && this.#sink) this.#sink(taken);
    super.onResponseStart(controller, statusCode, kept ?? headers, statusMessage);
  }
}

/**
 * A header into the copy. `__proto__` (undici makes it an own property) is defined, as undici
 * does, so that it is a header and not taken for the object's prototype; a plain object, not a
 * prototype-less one, which V8 would hold as a slow dictionary.
 */
function copy(into: ResponseHeaders, name: string, value: ResponseHeaders[string]): void {
  if (name === "__proto__")
    Object.defineProperty(into, name, { value, enumerable: true, configurable: true, writable: true });
  else into[name] = value;
}

export function responseHeaderHygiene(): Dispatcher.DispatcherComposeInterceptor {
  return function responseHeaderHygieneInterceptor(dispatch) {
    return function dispatchWithHygiene(opts, handler) {
      const sink = (opts as GatehouseDispatchOptions).onGatehouseHeaders;
      return dispatch(opts, new ResponseHeaderHygieneHandler(handler, sink));
    };
  };
}
