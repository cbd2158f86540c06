/**
 * One registry of the errors Gatehouse answers with: stable code → HTTP status → title.
 * The responder (src/enforce/responder.ts) is the only place that turns these into responses.
 */
export const ERRORS = {
  UPSTREAM_UNREACHABLE: {
    status: 502,
    title: "Bad Gateway",
    detail: "The application could not be reached.",
  },
  UPSTREAM_FAILED: {
    status: 502,
    title: "Bad Gateway",
    detail: "The application closed the connection without a valid response.",
  },
  UPSTREAM_TIMEOUT: {
    status: 504,
    title: "Gateway Timeout",
    detail: "The application did not answer in time.",
  },
  UNSUPPORTED_VERSION: {
    status: 505,
    title: "HTTP Version Not Supported",
    detail: "Gatehouse speaks HTTP/1.0 and HTTP/1.1.",
  },
  DUPLICATE_HOST: { status: 400, title: "Bad Request", detail: "The request has more than one Host header." },
  STATE_UNKNOWN: {
    status: 503,
    title: "Service Unavailable",
    detail: "Gatehouse has not yet loaded the shared decisions and is configured to fail closed.",
  },
  BAD_REQUEST_TARGET: {
    status: 400,
    title: "Bad Request",
    detail: "The request target must be an absolute path.",
  },
} as const;

export type ErrorCode = keyof typeof ERRORS;

/** An error with a stable code, for configuration and startup failures. */
export class GatehouseError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = "GatehouseError";
    this.code = code;
  }
}
