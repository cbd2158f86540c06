/**
 * What a request came to. Stages return these; only the responder (src/enforce/responder.ts)
 * turns them into HTTP, and only the record step turns them into metrics and logs.
 */
import type { ErrorCode } from "../errors.ts";

export type Outcome =
  /** The app's response went to the client (whatever its status). */
  | { kind: "forwarded"; status: number }
  /** Gatehouse answered with an error of its own (see src/errors.ts). */
  | { kind: "error"; code: ErrorCode; cause: string | null }
  /** The client went away before the response was complete; the upstream request was aborted. */
  | { kind: "aborted"; cause: string | null };
