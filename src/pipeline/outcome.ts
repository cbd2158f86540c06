/**
 * What a request came to. Stages return these; only the responder (src/enforce/responder.ts)
 * turns them into HTTP, and only the record step turns them into metrics and logs.
 */
import type { ErrorCode } from "../errors.ts";
import type { Decision } from "../store/decision.ts";

export type Outcome =
  /** The app's response went to the client (whatever its status). */
  | { kind: "forwarded"; status: number }
  /** Gatehouse answered with an error of its own (see src/errors.ts). */
  | { kind: "error"; code: ErrorCode; cause: string | null }
  /** The client went away before the response was complete; the upstream request was aborted. */
  | { kind: "aborted"; cause: string | null }
  /** A block decision applies (403), before forwarding or at the app's response (a blocked user). */
  | { kind: "blocked"; decision: Decision }
  /** A throttle decision's rate is used up (429); `retryAfter` in seconds. */
  | { kind: "throttled"; decision: Decision; retryAfter: number }
  /** A disable decision covers this route for this actor (its status, default 503). */
  | { kind: "disabled"; decision: Decision };
